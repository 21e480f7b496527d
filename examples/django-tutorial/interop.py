"""Drives the real channels_redis package (the tutorial's layer) for the interop test.

    interop.py send PORTS ROOM TEXT    group_send {"type": "chat.message", "message": TEXT}
    interop.py receive PORTS ROOM      group_add a new channel, print "ready", then print the
                                       first message received as JSON (10 s timeout)

PORTS is one Redis port on 127.0.0.1, or several comma-separated (CONFIG "hosts" order).
"""
import asyncio
import json
import sys

from channels_redis.core import RedisChannelLayer


async def main():
    mode, ports, room = sys.argv[1], sys.argv[2], sys.argv[3]
    layer = RedisChannelLayer(hosts=[("127.0.0.1", int(p)) for p in ports.split(",")])
    group = f"chat_{room}"
    if mode == "send":
        await layer.group_send(group, {"type": "chat.message", "message": sys.argv[4]})
        print("sent", flush=True)
    elif mode == "receive":
        channel = await layer.new_channel()
        await layer.group_add(group, channel)
        print("ready", flush=True)
        message = await asyncio.wait_for(layer.receive(channel), timeout=10)
        print(json.dumps(message), flush=True)
        await layer.group_discard(group, channel)
    else:
        sys.exit(f"unknown mode {mode}")


asyncio.run(main())
