# The seed tutorial's settings (startproject defaults plus channels), with the channel layer
# chosen by CHAT_LAYER: "memory" (InMemoryChannelLayer) or "redis" (RedisChannelLayer at
# CHAT_REDIS_HOST:CHAT_REDIS_PORT, default 127.0.0.1:6379).
import os
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
SECRET_KEY = "django-insecure-tutorial-only"
DEBUG = True
ALLOWED_HOSTS = []

INSTALLED_APPS = [
    "daphne",
    "channels",
    "chat",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "chatproject.urls"
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]
WSGI_APPLICATION = None
ASGI_APPLICATION = "chatproject.asgi.application"
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": BASE_DIR / "db.sqlite3",
    }
}
USE_TZ = True
STATIC_URL = "static/"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

if os.environ.get("CHAT_LAYER", "memory") == "redis":
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {
                "hosts": [
                    (
                        os.environ.get("CHAT_REDIS_HOST", "127.0.0.1"),
                        int(os.environ.get("CHAT_REDIS_PORT", "6379")),
                    )
                ],
                # channels_redis drops a member from its groups this many seconds after it
                # joined (86400 by default); CHAT_GROUP_EXPIRY lowers it, as some deployments
                # do, for the conformance run's order.idle-member control.
                "group_expiry": int(os.environ.get("CHAT_GROUP_EXPIRY", "86400")),
            },
        },
    }
elif os.environ.get("CHAT_LAYER") == "pubsub":
    # channels_redis's pub/sub layer (RedisPubSubChannelLayer): a Redis channel per group,
    # PUBLISH for group_send, no queues, no capacity, no expiry.
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
            "CONFIG": {
                "hosts": [
                    (
                        os.environ.get("CHAT_REDIS_HOST", "127.0.0.1"),
                        int(os.environ.get("CHAT_REDIS_PORT", "6379")),
                    )
                ],
            },
        },
    }
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
