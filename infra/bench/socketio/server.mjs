// Baseline for `make bench-realtime`: a plain Socket.IO 4 relay with no persistence.
// WebSocket transport only. A socket joins rooms with `join(room, ack)`; `msg(room, payload)` is
// emitted to every other socket in that room. `GET /healthz` answers 200 for readiness checks.
// Usage: node server.mjs [port]   (listens on 127.0.0.1; PORT env works too)
import { createServer } from "node:http";
import { Server } from "socket.io";

const port = Number(process.argv[2] ?? process.env.PORT ?? 18090);
const http = createServer((req, res) => {
  res.writeHead(req.url === "/healthz" ? 200 : 404, { "content-type": "text/plain" });
  res.end(req.url === "/healthz" ? "ok\n" : "not found\n");
});
const io = new Server(http, {
  transports: ["websocket"],
  serveClient: false,
  perMessageDeflate: false,
  cors: { origin: false },
});

io.on("connection", (socket) => {
  socket.on("join", (room, ack) => {
    socket.join(String(room));
    if (typeof ack === "function") ack();
  });
  socket.on("msg", (room, payload) => {
    socket.to(String(room)).emit("msg", payload);
  });
});

http.listen(port, "127.0.0.1", () => {
  console.error(`socket.io relay listening on 127.0.0.1:${port}`);
});
for (const signal of ["SIGINT", "SIGTERM"]) {
  process.on(signal, () => {
    io.close();
    process.exit(0);
  });
}
