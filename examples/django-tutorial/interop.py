"""Drives the real channels_redis package (the tutorial's layer) for the interop tests.

    interop.py send PORTS ROOM TEXT    group_send {"type": "chat.message", "message": TEXT}
    interop.py receive PORTS ROOM      group_add a new channel, print "ready", then print the
                                       first message received as JSON (10 s timeout)

PORTS is one Redis port on 127.0.0.1, or several comma-separated (CONFIG "hosts" order).
INTEROP_LAYER=pubsub uses RedisPubSubChannelLayer instead of RedisChannelLayer; its group_add
does not wait for Redis to confirm the subscription, so "receive" first sends itself a probe
through the group and prints "ready" once the probe is back.
"""
import asyncio
import json
import os
import sys

from channels_redis.core import RedisChannelLayer
from channels_redis.pubsub import RedisPubSubChannelLayer


async def main():
    mode, ports, room = sys.argv[1], sys.argv[2], sys.argv[3]
    pubsub = os.environ.get("INTEROP_LAYER") == "pubsub"
    hosts = [("127.0.0.1", int(p)) for p in ports.split(",")]
    layer = RedisPubSubChannelLayer(hosts=hosts) if pubsub else RedisChannelLayer(hosts=hosts)
    group = f"chat_{room}"
    if mode == "send":
        await layer.group_send(group, {"type": "chat.message", "message": sys.argv[4]})
        print("sent", flush=True)
    elif mode == "receive":
        channel = await layer.new_channel()
        await layer.group_add(group, channel)
        if pubsub:
            await layer.group_send(group, {"type": "probe"})
            probe = await asyncio.wait_for(layer.receive(channel), timeout=10)
            assert probe["type"] == "probe", probe
        print("ready", flush=True)
        message = await asyncio.wait_for(layer.receive(channel), timeout=10)
        print(json.dumps(message), flush=True)
        await layer.group_discard(group, channel)
    else:
        sys.exit(f"unknown mode {mode}")
    if pubsub:
        await layer.flush()


asyncio.run(main())
