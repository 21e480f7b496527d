# Sourced by the project's shell scripts (scripts/, examples/django-tutorial/, .ci/run): ports
# and readiness on loopback, one copy.

# free_port: a TCP port free on 127.0.0.1 at this instant (the kernel's pick; nothing holds it
# afterwards, so use it at once).
free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# wait_http URL [SECONDS [CA]]: returns 0 as soon as a GET of URL succeeds (a 2xx or 3xx; for
# https, trusting the certificate file CA), polling every 0.1 s; after SECONDS (default 15)
# prints "nothing answers at URL within SECONDS s" on stderr and returns 1.
wait_http() {
  local url=$1 seconds=${2:-15} ca=${3:-} deadline
  deadline=$(($(date +%s%N) + seconds * 1000000000))
  while [ "$(date +%s%N)" -lt "$deadline" ]; do
    python3 - "$url" "$ca" 2>/dev/null <<'PY' && return 0
import ssl, sys, urllib.request
ctx = ssl.create_default_context(cafile=sys.argv[2]) if sys.argv[2] else None
urllib.request.urlopen(sys.argv[1], timeout=1, context=ctx)
PY
    sleep 0.1
  done
  echo "nothing answers at $url within $seconds s" >&2
  return 1
}
