"""Route selection: which configured route a request belongs to."""
