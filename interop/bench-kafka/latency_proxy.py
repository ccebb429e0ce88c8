#!/usr/bin/env python3
"""A TCP proxy that gives every HTTP request S3's latency.

    latency_proxy.py LISTEN_PORT TARGET_HOST:TARGET_PORT MEAN_MS

run.py puts it between silt's agent and versitygw on loopback, so the
agent's bucket answers like S3 does (a fixed part plus a long tail) rather
than in the fraction of a millisecond a local server takes. Each request
waits MEAN_MS + exponential(MEAN_MS) before it is passed on: 20 gives
20 ms + exponential(20 ms), as `silt bench --request-latency 20ms` injects
inside the agent's process.

A request is recognised without parsing HTTP: on a kept-alive connection
the client sends a request only once it has the previous response, so the
first bytes from the client after bytes from the server (or on a new
connection) start a request. A body sent after a `100 Continue` is delayed
again, as S3 costs a round trip there too. Its stdout says "listening"
once it accepts connections.
"""
import asyncio
import random
import sys


async def pipe(reader, writer, on_data):
    try:
        while True:
            data = await reader.read(1 << 16)
            if not data:
                break
            await on_data()
            writer.write(data)
            await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        try:
            writer.close()
        except (ConnectionError, OSError):
            pass


async def serve(client_r, client_w, target, mean_s):
    host, port = target
    try:
        server_r, server_w = await asyncio.open_connection(host, port)
    except OSError:
        client_w.close()
        return
    state = {"new_request": True}

    async def from_client():
        if state["new_request"]:
            state["new_request"] = False
            await asyncio.sleep(mean_s + random.expovariate(1 / mean_s))

    async def from_server():
        state["new_request"] = True

    await asyncio.gather(pipe(client_r, server_w, from_client), pipe(server_r, client_w, from_server))


async def main():
    listen, target, mean_ms = int(sys.argv[1]), sys.argv[2], float(sys.argv[3])
    host, port = target.rsplit(":", 1)
    mean_s = mean_ms / 1000
    srv = await asyncio.start_server(lambda r, w: serve(r, w, (host, int(port)), mean_s), "127.0.0.1", listen)
    print("listening", flush=True)
    async with srv:
        await srv.serve_forever()


if __name__ == "__main__":
    asyncio.run(main())
