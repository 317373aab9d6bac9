"""A loopback TCP port that forwards to codex-serve's Unix socket, for clients inside a sandbox that
take only a base URL. Usage: unix_forward.py PORT SOCKET [LIFETIME_SECONDS]. It binds 127.0.0.1 only,
prints "ready" once listening, and exits by itself after LIFETIME_SECONDS (default 60)."""

import asyncio
import sys


async def pipe(reader, writer):
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    finally:
        writer.close()


async def main(port: int, socket_path: str, lifetime: float) -> None:
    async def handle(client_r, client_w):
        try:
            up_r, up_w = await asyncio.open_unix_connection(socket_path)
        except OSError:
            client_w.close()
            return
        await asyncio.gather(pipe(client_r, up_w), pipe(up_r, client_w), return_exceptions=True)

    server = await asyncio.start_server(handle, "127.0.0.1", port, limit=65536)
    print("ready", flush=True)
    async with server:
        await asyncio.sleep(lifetime)


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]), sys.argv[2], float(sys.argv[3]) if len(sys.argv) > 3 else 60.0))
