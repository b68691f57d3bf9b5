// What berth's CLI bundle takes of undici: Agent (and ProxyAgent), with Dispatcher#request (undici's public
// dispatcher API). undici's own index also evaluates fetch, WebSocket, EventSource, the cache
// and the mocks at load: 63 ms against 26 ms here without a code cache, ~15 ms of every
// pull and push with one. The library build (dist/index.js) imports the whole package.
const Dispatcher = require("undici/lib/dispatcher/dispatcher.js");
Dispatcher.prototype.request = require("undici/lib/api/api-request.js");
module.exports = {
  Agent: require("undici/lib/dispatcher/agent.js"),
  // evaluated only when a proxy is configured (HTTPS_PROXY, HTTP_PROXY)
  get ProxyAgent() {
    // its tunnels are opened with Dispatcher#connect
    Dispatcher.prototype.connect ??= require("undici/lib/api/api-connect.js");
    return require("undici/lib/dispatcher/proxy-agent.js");
  },
};
