#!/usr/bin/env bash
# Puts Checkpoint on a Raspberry Pi gate (docs/deploy.md): only what a gate needs, no
# broker and no database server. Run it as root from a checkout or release tarball:
#
#   scripts/install-pi.sh              install (again: changes nothing)
#   scripts/install-pi.sh --upgrade    install this tree as a new release beside the
#                                      running one, switch, check with `checkpoint
#                                      doctor`; on failure switch back
#   scripts/install-pi.sh --uninstall [--purge]
#                                      remove it; config, records and the service user
#                                      stay unless --purge
#
# Where things go:
#   /opt/checkpoint/releases/NAME/   one virtualenv per release (requirements.lock with
#                                    hashes, then the project itself without deps)
#   /opt/checkpoint/current          symlink to the release the service runs
#   /etc/checkpoint/                 config, from `checkpoint provision`; never touched
#                                    here but for the template checkpoint.toml.example
#   /var/lib/checkpoint/             the store
#   /etc/systemd/system/checkpoint.service, /etc/xdg/autostart/checkpoint-kiosk.desktop
#
# Options: --root DIR puts everything under DIR and only prints the steps that act on the
# running system (apt-get, useradd, chown, systemctl) as "would run: ...", so the script
# can be tried, and is tested, unprivileged against a temporary tree. --release NAME names
# the release folder (default: the version in pyproject.toml).
# Environment: PYTHON (default python3); GPIO_PIN_LIBRARY, PICAMERA2, KIOSK_BROWSER,
# SYSTEM_SITE_PACKAGES (below);
# CHECKPOINT_INSTALL_DOCTOR, for tests only: a shell command run instead of
# `checkpoint doctor` by --upgrade.
set -euo pipefail
umask 022

# gpiozero's pin library. "debian": Raspberry Pi OS's python3-lgpio, seen through the
# venv made with --system-site-packages (PyPI's lgpio has no wheel for Python 3.13 on
# aarch64, so it is not locked: pip would compile it); "none": no pin library (a gate
# without a GPIO relay).
GPIO_PIN_LIBRARY=${GPIO_PIN_LIBRARY:-debian}
# The Pi camera module (picamera2://) needs Raspberry Pi OS's python3-picamera2 (pip
# cannot supply its libcamera bindings): PICAMERA2=yes installs it (the desktop image has
# it already). The release's venv sees the system's packages for it (and for a Debian
# lgpio); its own locked packages come first.
PICAMERA2=${PICAMERA2:-no}
SYSTEM_SITE_PACKAGES=${SYSTEM_SITE_PACKAGES:-yes}
PYTHON=${PYTHON:-python3}
SERVICE_USER=checkpoint
SERVICE_GROUPS=dialout,video,gpio
# libzbar0: the fallback QR decoder; chromium and the font: the guard console's kiosk;
# sqlite3: backups of the store while the agent runs (docs/deploy.md).
# Chromium is `chromium` on Raspberry Pi OS 13 (and Debian), `chromium-browser` on 12.
KIOSK_BROWSER=${KIOSK_BROWSER:-chromium}
PACKAGES=(python3-venv libzbar0 sqlite3 "$KIOSK_BROWSER" fonts-wqy-microhei)

SOURCE=$(cd "$(dirname "$0")/.." && pwd)
stage=""
trap '[ -z "$stage" ] || rm -rf "$stage"' EXIT

say() { printf 'install-pi: %s\n' "$*"; }
die() { printf 'install-pi: %s\n' "$*" >&2; exit 1; }
usage() { printf 'install-pi: %s\n' "$*" >&2; sed -n '4,10s/^# \{0,1\}//p' "$0" >&2; exit 2; }

mode=install purge=0 root="" release=""
while [ $# -gt 0 ]; do
  case $1 in
    --upgrade) mode=upgrade ;;
    --uninstall) mode=uninstall ;;
    --purge) purge=1 ;;
    --root) [ $# -ge 2 ] || usage "--root needs a folder"; root=$2; shift ;;
    --release) [ $# -ge 2 ] || usage "--release needs a name"; release=$2; shift ;;
    -h|--help) sed -n '2,29s/^# \{0,1\}//p' "$0"; exit 0 ;;
    *) usage "unknown option: $1" ;;
  esac
  shift
done
[ "$purge" -eq 0 ] || [ "$mode" = uninstall ] || usage "--purge goes with --uninstall"
case $GPIO_PIN_LIBRARY in debian|none) ;; *) usage "GPIO_PIN_LIBRARY: debian or none" ;; esac
[ "$GPIO_PIN_LIBRARY" = none ] || [ "$SYSTEM_SITE_PACKAGES" = yes ] ||
  usage "GPIO_PIN_LIBRARY=debian needs SYSTEM_SITE_PACKAGES=yes"
case $PICAMERA2$SYSTEM_SITE_PACKAGES in yesyes|noyes|nono) ;;
  yesno) usage "PICAMERA2=yes needs SYSTEM_SITE_PACKAGES=yes" ;;
  *) usage "PICAMERA2 and SYSTEM_SITE_PACKAGES: yes or no" ;;
esac
if [ -n "$root" ]; then
  [ -d "$root" ] || usage "--root $root: not a folder"
  root=$(cd "$root" && pwd)
elif [ "$(id -u)" -ne 0 ]; then
  die "run as root (sudo $0), or try it with --root DIR"
fi
if [ -z "$release" ]; then
  release=$(sed -n 's/^version = "\([^"]*\)"$/\1/p' "$SOURCE/pyproject.toml" | head -n 1)
fi
[[ $release =~ ^[A-Za-z0-9][A-Za-z0-9._+-]*$ ]] || usage "bad release name: '$release'"

OPT=$root/opt/checkpoint
CURRENT=$OPT/current
ETC=$root/etc/checkpoint
CONFIG=$ETC/checkpoint.toml
STATE=$root/var/lib/checkpoint
UNIT=$root/etc/systemd/system/checkpoint.service
KIOSK=$root/etc/xdg/autostart/checkpoint-kiosk.desktop
# `checkpoint` on the PATH, so the commands docs/provisioning.md prints work as typed.
COMMAND_LINK=$root/usr/local/bin/checkpoint
COMMAND_TARGET=/opt/checkpoint/current/bin/checkpoint

# A step that acts on the running system: done as root, printed under --root.
system() {
  if [ -n "$root" ]; then printf 'would run: %s\n' "$*"; else "$@"; fi
}

# A command as the service would run it: its user, its groups.
as_service() {
  if [ -n "$root" ]; then "$@"; else runuser -u "$SERVICE_USER" -- "$@"; fi
}

# Copy only when the content differs, so a second run leaves every file as it was.
place() {  # SOURCE TARGET MODE
  cmp -s "$1" "$2" || install -D -m "$3" "$1" "$2"
}

current_release() {
  if [ -L "$CURRENT" ]; then basename "$(readlink "$CURRENT")"; fi
}

install_packages() {
  local wanted=("${PACKAGES[@]}") missing=() p
  [ "$GPIO_PIN_LIBRARY" = none ] || wanted+=(python3-lgpio)
  [ "$PICAMERA2" = no ] || wanted+=(python3-picamera2)
  if [ -n "$root" ]; then
    system apt-get install -y --no-install-recommends "${wanted[@]}"
    return
  fi
  for p in "${wanted[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
  [ ${#missing[@]} -eq 0 ] && return
  say "installing ${missing[*]}"
  apt-get update -q
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"
}

create_user() {
  if [ -n "$root" ]; then
    printf 'would run: %s\n' "getent group gpio || groupadd --system gpio"
    system useradd --system --user-group --home-dir /var/lib/checkpoint --no-create-home \
      --shell /usr/sbin/nologin --groups "$SERVICE_GROUPS" "$SERVICE_USER"
    return
  fi
  # Raspberry Pi OS has the gpio group (its udev rules give it /dev/gpiochip*); elsewhere
  # the unit's SupplementaryGroups= would fail the start without it.
  getent group gpio >/dev/null || groupadd --system gpio
  if id -u "$SERVICE_USER" >/dev/null 2>&1; then
    usermod --append --groups "$SERVICE_GROUPS" "$SERVICE_USER"
  else
    useradd --system --user-group --home-dir /var/lib/checkpoint --no-create-home \
      --shell /usr/sbin/nologin --groups "$SERVICE_GROUPS" "$SERVICE_USER"
  fi
}

# releases/NAME: a virtualenv of exactly the locked dependencies, then the project. The
# RELEASE file is written last: a release without it is a broken build, made again.
build_release() {
  local dir=$OPT/releases/$release venv_options=()
  if [ -f "$dir/RELEASE" ]; then
    say "release $release is already built"
    return
  fi
  say "building release $release in $dir"
  rm -rf "$dir"
  mkdir -p "$OPT/releases"
  [ "$SYSTEM_SITE_PACKAGES" = no ] || venv_options+=(--system-site-packages)
  "$PYTHON" -m venv "${venv_options[@]}" "$dir"
  local pip=("$dir/bin/pip" --quiet --disable-pip-version-check)
  # --ignore-installed: every locked package into the venv, even one the system has at
  # that version, so an apt upgrade never changes what a release runs.
  "${pip[@]}" install --ignore-installed --require-hashes -r "$SOURCE/requirements.lock"
  # Built from a clean copy: an in-tree build would leave build/ in the checkout, and a
  # later release could take a module deleted since from it.
  stage=$(mktemp -d)
  tar -C "$SOURCE" --exclude=./.git --exclude=./.venv --exclude=./build --exclude=./.run \
    --exclude='*.egg-info' --exclude=__pycache__ --exclude='./.*_cache' -cf - . |
    tar -C "$stage" -xf -
  "${pip[@]}" install --no-deps "$stage"
  rm -rf "$stage"
  # The system files travel with the release, so a rollback restores its own unit.
  install -D -m 0644 "$SOURCE/config/systemd/checkpoint.service" \
    "$dir/share/checkpoint/checkpoint.service"
  install -D -m 0644 "$SOURCE/config/kiosk/checkpoint-kiosk.desktop" \
    "$dir/share/checkpoint/checkpoint-kiosk.desktop"
  install -D -m 0644 "$SOURCE/config/pi.toml" "$dir/share/checkpoint/checkpoint.toml.example"
  printf '%s\n' "$release" >"$dir/RELEASE"
}

# Repoint `current` in one rename: the service never sees a missing link.
switch_to() {
  ln -sfn "releases/$1" "$OPT/.current.new"
  mv -T "$OPT/.current.new" "$CURRENT"
}

# The unit and the kiosk entry of the current release.
place_system_files() {
  local share=$CURRENT/share/checkpoint
  place "$share/checkpoint.service" "$UNIT" 0644
  place "$share/checkpoint-kiosk.desktop" "$KIOSK" 0644
  if [ "$(readlink "$COMMAND_LINK" 2>/dev/null)" != "$COMMAND_TARGET" ]; then
    mkdir -p "$(dirname "$COMMAND_LINK")"
    ln -sfn "$COMMAND_TARGET" "$COMMAND_LINK"
  fi
  system systemctl daemon-reload
}

# /etc/checkpoint: root's, and the service's group may write in it, since the agent
# replaces the bundles the district pushes (trust list, revocations, policy, roster)
# beside its config. The config itself is `checkpoint provision`'s to write: only the
# template goes here, under its own name, so provision finds no config in its way.
make_folders() {
  install -d -m 0770 "$ETC"
  system chown root:"$SERVICE_USER" /etc/checkpoint
  place "$CURRENT/share/checkpoint/checkpoint.toml.example" "$ETC/checkpoint.toml.example" 0644
  install -d -m 0750 "$STATE"
  system chown "$SERVICE_USER:$SERVICE_USER" /var/lib/checkpoint
}

# Start only a config that passes: an unprovisioned gate is enabled and waits.
start_if_ready() {
  if [ -e "$CONFIG" ] && as_service "$CURRENT/bin/checkpoint" config check --config "$CONFIG"
  then
    system systemctl enable --now checkpoint.service
    say "checkpoint $release is running; check it: checkpoint doctor --config $CONFIG"
    return
  fi
  system systemctl enable checkpoint.service
  if [ -e "$CONFIG" ]; then
    say "enabled, not started: $CONFIG fails config check (above)"
  else
    say "enabled, not started: no config yet"
  fi
  say "next: provision the gate (docs/provisioning.md), then"
  say "  checkpoint doctor --config /etc/checkpoint/checkpoint.toml --gate   (the service stopped:"
  say "  doctor opens the camera, the port and the relay itself), then systemctl restart checkpoint"
}

do_install() {
  local running
  running=$(current_release)
  if [ -n "$running" ] && [ "$running" != "$release" ]; then
    die "release $running is installed; to replace it by $release: $0 --upgrade"
  fi
  install_packages
  create_user
  build_release
  [ -n "$running" ] || switch_to "$release"
  make_folders
  place_system_files
  start_if_ready
}

doctor() {
  if [ -n "${CHECKPOINT_INSTALL_DOCTOR:-}" ]; then
    sh -c "$CHECKPOINT_INSTALL_DOCTOR"
  else
    as_service "$CURRENT/bin/checkpoint" doctor --config "$CONFIG"
  fi
}

# Back to the release that ran before, with its own unit; the failed one is removed.
roll_back() {  # OLD NEW WHAT
  printf 'install-pi: release %s failed %s: rolling back to %s\n' "$2" "$3" "$1" >&2
  system systemctl stop checkpoint.service
  switch_to "$1"
  place_system_files
  system systemctl start checkpoint.service ||
    printf 'install-pi: release %s does not start either: see journalctl -u checkpoint\n' "$1" >&2
  rm -rf "${OPT:?}/releases/$2"
  die "upgrade to $2 failed ($3); release $1 runs again. Fix what it reported, then retry."
}

do_upgrade() {
  local old
  old=$(current_release)
  [ -n "$old" ] || die "nothing installed to upgrade: run $0 without --upgrade"
  if [ "$old" = "$release" ]; then
    say "release $release is already the current one: nothing to do"
    return
  fi
  install_packages
  create_user
  rm -rf "${OPT:?}/releases/$release"   # a leftover of an earlier failed attempt
  build_release
  # Stopped while doctor runs: the camera and the serial port are the agent's otherwise.
  system systemctl stop checkpoint.service
  switch_to "$release"
  place_system_files
  doctor || roll_back "$old" "$release" "checkpoint doctor"
  system systemctl start checkpoint.service || roll_back "$old" "$release" "to start"
  prune_releases "$old"
  say "upgraded $old -> $release; $old is kept for a manual rollback (docs/deploy.md)"
}

# Keep the current release and the one before it.
prune_releases() {  # PREVIOUS
  local dir name
  for dir in "$OPT"/releases/*; do
    name=$(basename "$dir")
    [ "$name" = "$release" ] || [ "$name" = "$1" ] || rm -rf "$dir"
  done
}

do_uninstall() {
  if [ -e "$UNIT" ]; then
    system systemctl disable --now checkpoint.service
  fi
  rm -f "$UNIT" "$KIOSK"
  if [ "$(readlink "$COMMAND_LINK" 2>/dev/null)" = "$COMMAND_TARGET" ]; then
    rm -f "$COMMAND_LINK"
  fi
  system systemctl daemon-reload
  rm -rf "$OPT"
  rm -f "$ETC/checkpoint.toml.example"
  [ ! -d "$ETC" ] || rmdir --ignore-fail-on-non-empty "$ETC"
  if [ "$purge" -eq 1 ]; then
    rm -rf "$ETC" "$STATE"
    if [ -n "$root" ] || id -u "$SERVICE_USER" >/dev/null 2>&1; then
      system userdel "$SERVICE_USER"
    fi
    say "removed, with the config, the records and the user $SERVICE_USER"
  else
    say "removed; kept /etc/checkpoint, /var/lib/checkpoint and the user $SERVICE_USER"
    say "(their owner): --uninstall --purge removes them too"
  fi
}

"do_$mode"
