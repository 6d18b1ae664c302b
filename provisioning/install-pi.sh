#!/bin/sh
# Install resetline on Raspberry Pi OS (bookworm): user, venv, pjsua2, units, udev rules, configuration.
# Idempotent: run it again after an update. docs/install-pi.md explains every step.
#
#   sudo provisioning/install-pi.sh [--dry-run] [--root DIR] [--no-pip] [--pjproject DIR] [--read-only-root]
#
#   --dry-run         print what would be done, change nothing
#   --root DIR        install into DIR instead of / (a throw-away root for tests or an image build); no service
#                     is started, systemctl/sysusers/tmpfiles work on DIR offline
#   --no-pip          create the venv but install nothing into it (tests; an image that installs later)
#   --wheels DIR      install from wheels in DIR only (pip --no-index): a box without internet
#   --pjproject DIR   build pjsua2 from this unpacked pjproject source tree when no wheel exists (arm)
#   --read-only-root  switch on the read-only root with an overlay (raspi-config); needs /var/lib/resetline
#                     on its own persistent partition
set -eu

ROOT=""
DRY=0
PIP=1
WHEELS=""
PJPROJECT=""
READONLY=0
while [ $# -gt 0 ]; do
    case "$1" in
        --dry-run) DRY=1 ;;
        --root) ROOT="${2:?--root needs a directory}"; shift ;;
        --no-pip) PIP=0 ;;
        --wheels) WHEELS="${2:?--wheels needs a directory}"; shift ;;
        --pjproject) PJPROJECT="${2:?--pjproject needs a directory}"; shift ;;
        --read-only-root) READONLY=1 ;;
        -h|--help) sed -n '2,17p' "$0"; exit 0 ;;
        *) echo "install-pi.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
    esac
    shift
done

SRC=$(cd "$(dirname "$0")/.." && pwd)
PREFIX=/opt/resetline
VENV=$PREFIX/venv
CONF=/etc/resetline/resetline.toml
ROOT=${ROOT%/}
R="$ROOT"   # prefix for paths; empty for the running system

say() { printf '%s\n' "$*"; }
run() {
    say "+ $*"
    [ "$DRY" -eq 1 ] || "$@"
}
live() { [ -z "$ROOT" ]; }

if [ -n "$ROOT" ] && [ ! -d "$ROOT" ]; then
    echo "install-pi.sh: --root $ROOT: no such directory" >&2; exit 2
fi
if live && [ "$DRY" -eq 0 ] && [ "$(id -u)" -ne 0 ]; then
    echo "install-pi.sh: run as root (sudo), or try --dry-run / --root DIR" >&2; exit 2
fi
if live && ! grep -q 'VERSION_CODENAME=bookworm' /etc/os-release 2>/dev/null; then
    say "warning: this is not Raspberry Pi OS / Debian bookworm; going on anyway"
fi

say "== 1. the resetline user (groups dialout, gpio)"
run install -d -m 0755 "$R/etc/sysusers.d"
run install -m 0644 "$SRC/systemd/resetline.sysusers" "$R/etc/sysusers.d/resetline.conf"
if live; then run systemd-sysusers /etc/sysusers.d/resetline.conf
else run systemd-sysusers --root="$ROOT" "$ROOT/etc/sysusers.d/resetline.conf"; fi

say "== 1b. runtime packages: sox (prompt recordings and the SIM800's AMR copies), python3-venv"
if live; then
    run apt-get install -y -q --no-install-recommends sox libsox-fmt-all python3-venv
else
    say "not a live install: apt-get install sox libsox-fmt-all python3-venv is left to the image"
fi

say "== 2. the program in $PREFIX (source in $PREFIX/src, venv in $VENV)"
run install -d -m 0755 "$R$PREFIX" "$R$PREFIX/src"
# the tracked files only (no .venv, no caches), replacing what an earlier run installed
if [ -e "$SRC/.git" ] && command -v git >/dev/null 2>&1; then
    say "+ git -C $SRC archive HEAD | tar -x -C $R$PREFIX/src"
    [ "$DRY" -eq 1 ] || git -C "$SRC" archive --format=tar HEAD | tar -x -C "$R$PREFIX/src"
else
    run cp -a "$SRC/." "$R$PREFIX/src/"
fi
if [ -x "$R$VENV/bin/python" ]; then
    say "venv $VENV exists: kept"
else
    run python3 -m venv --system-site-packages "$R$VENV"
fi
if [ "$PIP" -eq 1 ]; then
    if [ -n "$WHEELS" ]; then
        run "$R$VENV/bin/pip" install --no-index --find-links "$WHEELS" "$R$PREFIX/src"
    else
        run "$R$VENV/bin/pip" install "$R$PREFIX/src"
    fi
else
    say "--no-pip: nothing installed into the venv"
fi

say "== 3. pjsua2 (SIP lines)"
if [ "$DRY" -eq 0 ] && [ -x "$R$VENV/bin/python" ] && "$R$VENV/bin/python" -c 'import pjsua2' 2>/dev/null; then
    say "pjsua2 imports: kept"
elif [ -n "$PJPROJECT" ]; then
    # No pjsua2-python wheel for arm: build the binding from pjproject with room for 32 calls (docs/sip.md).
    say "+ building pjsua2 from $PJPROJECT (PJSUA_MAX_CALLS 32)"
    if [ "$DRY" -eq 0 ]; then
        printf '#define PJSUA_MAX_CALLS 32\n' > "$PJPROJECT/pjlib/include/pj/config_site.h"
        (cd "$PJPROJECT" && ./configure --enable-shared --disable-video CFLAGS=-fPIC && make dep && make \
            && cd pjsip-apps/src/swig/python && make PYTHON="$R$VENV/bin/python" \
            && "$R$VENV/bin/pip" install .)
    fi
else
    say "pjsua2 not installed: SIP lines will not start. On a Pi there is no wheel; build it (docs/install-pi.md):"
    say "  apt-get install build-essential python3-dev swig libasound2-dev; fetch and unpack pjproject 2.15.1;"
    say "  then run this installer again with --pjproject DIR"
fi

say "== 4. units, udev rules, polkit rule, tmpfiles, journald (logs in RAM)"
run install -d -m 0755 "$R/etc/systemd/system" "$R/etc/udev/rules.d" "$R/etc/tmpfiles.d" \
    "$R/etc/systemd/journald.conf.d"
for unit in resetline.service resetline-sync.service resetline-sync.timer resetline-console@.service; do
    if [ -f "$SRC/systemd/$unit" ]; then run install -m 0644 "$SRC/systemd/$unit" "$R/etc/systemd/system/$unit"; fi
done
run install -m 0644 "$SRC/systemd/90-resetline.rules" "$R/etc/udev/rules.d/90-resetline.rules"
# polkit (bookworm: polkitd 122, JavaScript rules): reboot and the UART console, for user resetline only.
# The rules directory may already exist with polkit's own owner and mode: create it only when missing.
[ -d "$R/etc/polkit-1/rules.d" ] || run install -d -m 0755 "$R/etc/polkit-1/rules.d"
run install -m 0644 "$SRC/systemd/50-resetline.rules" "$R/etc/polkit-1/rules.d/50-resetline.rules"
if live && [ ! -x /usr/lib/polkit-1/polkitd ]; then
    say "warning: polkitd is not installed, so the console's reboot and the button's console start are refused:"
    say "  apt-get install polkitd   (bookworm: JavaScript rules; it reads the rule file above by itself)"
fi
run install -m 0644 "$SRC/systemd/resetline.conf" "$R/etc/tmpfiles.d/resetline.conf"
run install -m 0644 "$SRC/systemd/journald.conf.d/resetline-volatile.conf" \
    "$R/etc/systemd/journald.conf.d/resetline-volatile.conf"
if live; then
    run systemd-tmpfiles --create /etc/tmpfiles.d/resetline.conf
    run udevadm control --reload
    run udevadm trigger --subsystem-match=tty
else
    run systemd-tmpfiles --root="$ROOT" --create "$ROOT/etc/tmpfiles.d/resetline.conf"
fi

say "== 5. the configuration $CONF"
run install -d -m 0750 "$R/etc/resetline"
if [ -f "$R$CONF" ]; then
    say "$CONF exists: kept (never overwritten)"
else
    run install -m 0640 "$SRC/provisioning/resetline.toml.example" "$R$CONF"
fi
if [ "$DRY" -eq 0 ]; then  # the group by number from the target's own group file (--root: not this host's)
    run chown ":$(awk -F: '$1 == "resetline" { print $3 }' "$R/etc/group")" "$R/etc/resetline" "$R$CONF"
fi

say "== 6. ModemManager masked, the service and the sync timer enabled"
if live; then
    run systemctl mask --now ModemManager.service
    run systemctl daemon-reload
    run systemctl enable --now resetline.service resetline-sync.timer
    run systemctl restart systemd-journald
else
    run systemctl --root="$ROOT" mask ModemManager.service
    run systemctl --root="$ROOT" enable resetline.service resetline-sync.timer
fi

if [ "$READONLY" -eq 1 ]; then
    say "== 7. read-only root with an overlay"
    if live && ! mountpoint -q /var/lib/resetline; then
        echo "install-pi.sh: /var/lib/resetline is not its own partition; with an overlay root the journal and" \
             "the snapshot would live in RAM and be lost at a power cut. See docs/install-pi.md." >&2
        exit 1
    fi
    if live; then
        run raspi-config nonint enable_overlayfs
        run raspi-config nonint enable_bootro
        say "reboot to take the overlay into use"
    else
        say "(--root: the overlay is switched on on the box itself with raspi-config nonint enable_overlayfs)"
    fi
fi
if [ "$DRY" -eq 1 ]; then say "dry run: nothing was changed"; else say "done"; fi
