"""Getting an answer for a chat request when upstreams fail.

A request's model chain (the chosen model, the tier's fallbacks, the last
resort) is walked in order; each model is reached through the upstream that
serves it (raw HTTP for OpenAI-compatible servers, LiteLLM for the others),
behind a circuit breaker and an optional rate limit, with bounded retries and
jittered backoff inside one overall deadline. Everything happens before the
first byte reaches the app, so a fallback never mixes two answers.
"""
