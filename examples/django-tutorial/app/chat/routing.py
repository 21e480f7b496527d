import os

from django.urls import path, re_path

from . import consumers

# The tutorial's route, unchanged, by default. CHAT_ROOM_ROUTE=uuid mounts the socket the way
# the seed's follow-up post ("UUID가 포함된 URL을 Channels Websocket이 수신하는 법") needs it: a
# room named by a UUID, which the tutorial's \w+ refuses for its hyphens. Django's own uuid
# converter is used (the post's text is not in the seed, only its title); the consumer is
# unchanged ("chat_%s" of a UUID is its hyphenated form, a valid group name).
if os.environ.get("CHAT_ROOM_ROUTE", "word") == "uuid":
    websocket_urlpatterns = [
        path("ws/chat/<uuid:room_name>/", consumers.ChatConsumer.as_asgi()),
    ]
else:
    websocket_urlpatterns = [
        re_path(r"ws/chat/(?P<room_name>\w+)/$", consumers.ChatConsumer.as_asgi()),
    ]
