/**
 * A TCP forwarder: `forward.ts <listen port> <host> <port>`. The minikube double puts one in
 * front of a profile's API server on every start, so the profile's address changes as the
 * docker driver's does (TLS passes through untouched: the serving certificate names the IP).
 */
import * as net from "node:net";

const [listen, host, port] = process.argv.slice(2);
net
  .createServer((client) => {
    const upstream = net.connect(Number(port), host);
    client.pipe(upstream).pipe(client);
    const close = () => (client.destroy(), upstream.destroy());
    client.on("error", close);
    upstream.on("error", close);
  })
  .listen(Number(listen), "127.0.0.1");
