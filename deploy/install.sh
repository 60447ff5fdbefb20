#!/usr/bin/env bash
# Installs a built asbhub for systemd (deploy/README.md):
#   /usr/bin/asb-{intake,sharing,notify,audit}, /usr/bin/asbctl
#   /lib/systemd/system/asb-*.service, asbhub.target
#   /etc/asbhub/{intake,sharing,notify,audit}.yaml  (never overwritten once there)
#   /etc/asbhub/keys/   each daemon's CurveZMQ key pair and at-rest key ring (made if missing)
#   /etc/asbhub/isp/    the ISP: partnership.yaml (yours) and the shipped example
#   /var/lib/asbhub/    the daemons' databases (each unit's StateDirectory)
#   /usr/share/doc/asbhub/
# and the system user asbhub that the units run as.
#
#   deploy/install.sh [--build DIR] [--multi-host] [--destdir DIR] [--no-user]
# --multi-host installs deploy/multi-host/ (tcp:// + CurveZMQ, hosts from /etc/asbhub/hosts.env)
# instead of the one-host configs (ipc:// under /run/asbhub). --destdir stages everything under
# DIR (for packaging; no user is made and systemd is not told).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD="$ROOT/build" DESTDIR="" MULTI=0 MAKE_USER=1
while [ $# -gt 0 ]; do
  case "$1" in
    --build) BUILD="$(cd "$2" && pwd)"; shift 2 ;;
    --destdir) DESTDIR="$(mkdir -p "$2" && cd "$2" && pwd)"; MAKE_USER=0; shift 2 ;;
    --multi-host) MULTI=1; shift ;;
    --no-user) MAKE_USER=0; shift ;;
    *) echo "install.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
DAEMONS=(intake sharing notify audit)
say() { printf '==> %s\n' "$*"; }
for d in "${DAEMONS[@]}"; do
  [ -x "$BUILD/services/$d/asb-$d" ] || { echo "install.sh: no $BUILD/services/$d/asb-$d (./asbhub build first)" >&2; exit 1; }
done

if [ "$MAKE_USER" -eq 1 ] && ! getent passwd asbhub >/dev/null; then
  say "system user asbhub"
  useradd --system --user-group --home-dir /var/lib/asbhub --no-create-home \
    --shell /usr/sbin/nologin --comment "asbhub daemons" asbhub
fi
owner() { [ "$MAKE_USER" -eq 1 ] && chown "$@" || true; }

say "binaries to $DESTDIR/usr/bin"
install -d -m 0755 "$DESTDIR/usr/bin"
for d in "${DAEMONS[@]}"; do
  install -m 0755 "$BUILD/services/$d/asb-$d" "$DESTDIR/usr/bin/asb-$d"
done
install -m 0755 "$BUILD/tools/asbctl/asbctl" "$DESTDIR/usr/bin/asbctl"

say "systemd units to $DESTDIR/lib/systemd/system"
install -d -m 0755 "$DESTDIR/lib/systemd/system"
install -m 0644 "$ROOT"/deploy/systemd/asb-*.service "$ROOT"/deploy/systemd/asbhub.target \
  "$DESTDIR/lib/systemd/system/"

etc="$DESTDIR/etc/asbhub"
say "configs to $etc"
install -d -m 0750 "$etc" "$etc/keys" "$etc/isp"
owner root:asbhub "$etc" "$etc/keys" "$etc/isp"
configs="$ROOT/deploy/config"
[ "$MULTI" -eq 1 ] && configs="$ROOT/deploy/multi-host"
for d in "${DAEMONS[@]}"; do
  if [ -e "$etc/$d.yaml" ]; then
    echo "    $etc/$d.yaml exists: kept"
  else
    install -m 0640 "$configs/$d.yaml" "$etc/$d.yaml"
    owner root:asbhub "$etc/$d.yaml"
  fi
done
if [ "$MULTI" -eq 1 ]; then
  [ -e "$etc/hosts.env" ] || install -m 0644 "$ROOT/deploy/multi-host/hosts.env" "$etc/hosts.env"
  for d in "${DAEMONS[@]}"; do
    install -d -m 0755 "$DESTDIR/etc/systemd/system/asb-$d.service.d"
    install -m 0644 "$ROOT/deploy/multi-host/asb-daemon.conf" \
      "$DESTDIR/etc/systemd/system/asb-$d.service.d/multi-host.conf"
  done
fi
install -m 0640 "$ROOT/config/isp/chesterfield.yaml" "$etc/isp/chesterfield.example.yaml"
owner root:asbhub "$etc/isp/chesterfield.example.yaml"

say "keys in $etc/keys (made only where missing)"
asbctl="$BUILD/tools/asbctl/asbctl"
for d in "${DAEMONS[@]}"; do
  if [ ! -e "$etc/keys/$d.key" ]; then
    "$asbctl" keys generate "$d" --dir "$etc/keys" >/dev/null
    echo "    $d: CurveZMQ public key $(sed -n 's/^public_key: "\(.*\)"$/\1/p' "$etc/keys/$d.pub")"
  fi
  ls "$etc/keys/at-rest-$d".*.key >/dev/null 2>&1 || "$asbctl" keys rotate --ring "$etc/keys/at-rest-$d" >/dev/null
  owner asbhub:asbhub "$etc/keys/$d.key" "$etc/keys/at-rest-$d".*.key
done

say "data directory $DESTDIR/var/lib/asbhub"
install -d -m 0750 "$DESTDIR/var/lib/asbhub"
owner asbhub:asbhub "$DESTDIR/var/lib/asbhub"

install -d -m 0755 "$DESTDIR/usr/share/doc/asbhub/deploy"
install -m 0644 "$ROOT/README.md" "$DESTDIR/usr/share/doc/asbhub/"
install -m 0644 "$ROOT/deploy/README.md" "$DESTDIR/usr/share/doc/asbhub/deploy/"

if [ -z "$DESTDIR" ] && [ -d /run/systemd/system ]; then
  systemctl daemon-reload
fi
cat <<EOT
==> installed. Next (deploy/README.md):
    1. write the partnership's ISP as $etc/isp/partnership.yaml (example beside it), listing the
       daemons' public keys above (and in $etc/keys/*.pub) under principals: with role ROLE_DAEMON;
    2. check it: asbctl policy check $etc/isp/partnership.yaml; and each config:
       asb-intake --config $etc/intake.yaml --validate (and sharing, notify, audit);
    3. systemctl enable --now asbhub.target; systemctl status 'asb-*'.
EOT
