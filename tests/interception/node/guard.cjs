// Loaded with --require: refuse to resolve any name but loopback ones, so a
// client that ignores the proxy settings fails here instead of reaching out.
const dns = require("node:dns");
const LOOPBACK = new Set(["localhost", "127.0.0.1", "::1"]);
const realLookup = dns.lookup;
dns.lookup = function (host, options, callback) {
  if (typeof options === "function") [options, callback] = [{}, options];
  if (!LOOPBACK.has(host)) {
    const err = Object.assign(new Error(`test guard: direct connection to ${host} attempted`), { code: "ENOTFOUND" });
    process.nextTick(callback, err);
    return;
  }
  return realLookup.call(this, host, options, callback);
};
