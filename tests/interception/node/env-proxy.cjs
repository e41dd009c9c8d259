// For Node releases whose fetch ignores HTTPS_PROXY (Node 20, and 22 before
// NODE_USE_ENV_PROXY): loaded with NODE_OPTIONS="--require .../env-proxy.cjs",
// it makes fetch (and so the openai SDK) follow HTTPS_PROXY/HTTP_PROXY/NO_PROXY.
// Needs the `undici` package where the app can require it.
const { EnvHttpProxyAgent, setGlobalDispatcher } = require("undici");
setGlobalDispatcher(new EnvHttpProxyAgent());
