#!/usr/bin/env bash
# Start the services the test suite needs when they are not running: Redis, PostgreSQL and a
# dedicated Dovecot IMAP server on 127.0.0.1:10143 (own config, never the system service);
# install headless Chromium for the browser tests.
# Installs them from Debian packages when missing (needs root, as on CI machines).
set -euo pipefail

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

apt_install() {
  if [ "$(id -u)" != 0 ]; then echo "services: need root to install $*" >&2; return 1; fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get -o DPkg::Lock::Timeout=600 update -qq >/dev/null
  apt-get install -y -qq -o DPkg::Lock::Timeout=600 "$@" >/dev/null
}

if ! port_open 6379; then
  command -v redis-server >/dev/null || apt_install redis-server
  mkdir -p /var/lib/redis /var/log/redis
  redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no \
    --dir /var/lib/redis --logfile /var/log/redis/ci.log
  for _ in $(seq 50); do port_open 6379 && break; sleep 0.1; done
fi
port_open 6379 || { echo "services: Redis did not start on 127.0.0.1:6379" >&2; exit 1; }

if ! port_open 5432; then
  if ! ls /etc/postgresql/*/main >/dev/null 2>&1; then apt_install postgresql; fi
  version="$(ls /etc/postgresql | sort -V | tail -1)"
  hba="/etc/postgresql/$version/main/pg_hba.conf"
  if ! grep -q "outreach-tests" "$hba"; then
    printf '# outreach-tests: trust local test connections\nhost all all 127.0.0.1/32 trust\nlocal all all trust\n' \
      | cat - "$hba" > "$hba.new" && mv "$hba.new" "$hba"
  fi
  pg_ctlcluster --skip-systemctl-redirect "$version" main start
  for _ in $(seq 100); do port_open 5432 && break; sleep 0.1; done
fi
port_open 5432 || { echo "services: PostgreSQL did not start on 127.0.0.1:5432" >&2; exit 1; }
if ! psql -h 127.0.0.1 -U postgres -d test -c 'select 1' >/dev/null 2>&1; then
  psql -h 127.0.0.1 -U postgres -d postgres -c 'create database test' >/dev/null
fi

# IMAP for the inbox tests: any user name logs in with the shared test password and gets its
# own maildir under $imap_home/mail/<user>, owned by the unprivileged user outreach-imap.
imap_home=/var/lib/outreach-imap
imap_port=10143
if ! port_open "$imap_port"; then
  [ -x /usr/lib/dovecot/imap ] || apt_install dovecot-imapd
  id -u outreach-imap >/dev/null 2>&1 ||
    useradd --system --user-group --no-create-home --home-dir "$imap_home/mail" \
      --shell /usr/sbin/nologin outreach-imap
  imap_uid="$(id -u outreach-imap)"
  mkdir -p "$imap_home/run" "$imap_home/state" "$imap_home/mail"
  chown outreach-imap:outreach-imap "$imap_home/mail"
  cat > "$imap_home/dovecot.conf" <<CONF
# outreach-tests: a dedicated Dovecot for the test suite, loopback only (scripts/services.sh)
instance_name = outreach-imap
base_dir = $imap_home/run
state_dir = $imap_home/state
log_path = $imap_home/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
auth_failure_delay = 0
first_valid_uid = $imap_uid
last_valid_uid = $imap_uid
mail_location = maildir:$imap_home/mail/%u
service imap-login {
  inet_listener imap {
    address = 127.0.0.1
    port = $imap_port
  }
  inet_listener imaps {
    port = 0
  }
}
service pop3-login {
  inet_listener pop3 {
    port = 0
  }
}
passdb {
  driver = static
  args = password=outreach-test
}
userdb {
  driver = static
  args = uid=outreach-imap gid=outreach-imap home=$imap_home/mail/%u
}
CONF
  /usr/sbin/dovecot -c "$imap_home/dovecot.conf"
  for _ in $(seq 100); do port_open "$imap_port" && break; sleep 0.1; done
fi
port_open "$imap_port" || {
  echo "services: Dovecot did not start on 127.0.0.1:$imap_port — see $imap_home/dovecot.log" >&2
  exit 1
}
# Headless Chromium for the browser tests (driven by Playwright, which uses this binary).
[ -x /usr/bin/chromium ] || apt_install chromium
/usr/bin/chromium --version >/dev/null 2>&1 || {
  echo "services: /usr/bin/chromium does not run" >&2
  exit 1
}
echo "services: Redis, PostgreSQL, IMAP (127.0.0.1:$imap_port) and Chromium are up"
