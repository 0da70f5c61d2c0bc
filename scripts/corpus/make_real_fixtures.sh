#!/usr/bin/env bash
# Produce the "real" fixtures of the reply corpus (tests/corpus/messages/*/real-*.eml):
#
#   * delivery status notifications written by a real Postfix, bound to loopback only, for
#     messages "sent" by ada.fischer@northwind-analytics.example to an unknown local user
#     (5.1.1), to a mailbox over its size limit (5.2.2), to a .test domain that does not exist
#     (5.4.4), and, with soft_bounce on, a "Delayed Mail (still being retried)" warning for
#     another non-existent domain (Action: delayed);
#   * vacation auto-replies written by Pigeonhole sieve `vacation`, run through `dovecot-lda`
#     with a minimal configuration of its own (no Dovecot daemon, no listening port), whose
#     sendmail_path is a capture script that writes each generated reply to a file.
#
# The produced messages are copied byte for byte: never edit them by hand, run this again.
# Runs as root (it installs packages and configures the local Postfix), is idempotent, and
# leaves nothing running: Postfix is stopped at the end and its queue emptied.
#
#   sudo bash scripts/corpus/make_real_fixtures.sh            # writes into this repository
#   CORPUS_WORK=/tmp/x bash scripts/corpus/make_real_fixtures.sh
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
MESSAGES="$REPO/tests/corpus/messages"
WORK="${CORPUS_WORK:-/var/tmp/northwind-corpus}"
RAW="$WORK/raw"                        # everything produced, unchanged
SENDER="ada.fischer@northwind-analytics.example"
HOST="mx.northwind-lab.test"
WAIT_S=90

log() { printf '==> %s\n' "$*" >&2; }
die() { printf 'make_real_fixtures: %s\n' "$*" >&2; exit 1; }

[[ $(id -u) -eq 0 ]] || die "run as root (it installs packages and configures Postfix)"

# --- packages -------------------------------------------------------------------------------

install_packages() {
    local missing=()
    for pkg in postfix dovecot-core dovecot-sieve dovecot-lmtpd faketime; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" \
            || missing+=("$pkg")
    done
    [[ ${#missing[@]} -eq 0 ]] && return 0
    log "installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    debconf-set-selections <<EOF
postfix postfix/main_mailer_type select Local only
postfix postfix/mailname string $HOST
EOF
    local apt=(apt-get install -y -o DPkg::Lock::Timeout=600 --no-install-recommends)
    "${apt[@]}" "${missing[@]}" || {
        apt-get -o DPkg::Lock::Timeout=600 update
        "${apt[@]}" "${missing[@]}"
    }
}

# --- Postfix --------------------------------------------------------------------------------

# Local domains: our own (so the reports come back to Ada's local mailbox) and two lead
# domains with a known mailbox (k.mueller, over its size limit) and an unknown one.
LOCAL_DOMAINS="northwind-analytics.example, kontor-nord.test, brauhaus-logistik.test"
ALIASES=/etc/postfix/northwind-corpus-aliases
ADA_MAILDIR="$WORK/mail/ada/"          # trailing slash: local(8) delivers as maildir
FULL_MBOX="$WORK/mail/k.mueller.mbox"
SIZE_LIMIT=40960                       # bytes, for every local mailbox file

configure_postfix() {
    log "configuring Postfix (loopback only, $HOST)"
    mkdir -p "$WORK/mail/ada"/{new,cur,tmp}
    # An mbox that is nearly at the size limit: the next message does not fit.
    python3 - "$FULL_MBOX" "$SIZE_LIMIT" <<'PY'
import sys
path, limit = sys.argv[1], int(sys.argv[2])
chunk = (
    "From newsletter@supplier.test Mon Nov  2 08:00:00 2026\n"
    "From: Supplier News <newsletter@supplier.test>\n"
    "To: k.mueller@brauhaus-logistik.test\n"
    "Subject: Weekly freight rates\n\n" + "Rates table line.\n" * 60 + "\n"
)
with open(path, "w") as f:
    f.write((chunk * (limit // len(chunk) + 1))[: limit - 200])
PY
    chown -R nobody:nogroup "$WORK/mail"
    cat >"$ALIASES" <<EOF
# Written by scripts/corpus/make_real_fixtures.sh
ada.fischer: $ADA_MAILDIR
k.mueller: $FULL_MBOX
EOF
    postalias "$ALIASES"
    postalias /etc/aliases 2>/dev/null || true
    postconf -e \
        "myhostname = $HOST" \
        "mydomain = northwind-lab.test" \
        "myorigin = \$myhostname" \
        "inet_interfaces = loopback-only" \
        "inet_protocols = ipv4" \
        "mydestination = \$myhostname, localhost, $LOCAL_DOMAINS" \
        "relayhost =" \
        "default_transport = smtp" \
        "relay_transport = smtp" \
        "alias_maps = hash:/etc/aliases, hash:$ALIASES" \
        "alias_database = hash:/etc/aliases, hash:$ALIASES" \
        "mailbox_size_limit = $SIZE_LIMIT" \
        "message_size_limit = $SIZE_LIMIT" \
        "soft_bounce = no" \
        "delay_warning_time = 1s" \
        "queue_run_delay = 1s" \
        "minimal_backoff_time = 1s" \
        "maximal_backoff_time = 2s" \
        "smtp_dns_support_level = disabled" \
        "smtp_host_lookup = native" \
        "biff = no"
}

start_postfix() {
    # What Debian's service start does first: copy resolver files into the smtp chroot.
    [[ -x /usr/lib/postfix/configure-instance.sh ]] && /usr/lib/postfix/configure-instance.sh -
    postfix check
    if postfix status >/dev/null 2>&1; then
        postfix reload
    else
        postfix start
    fi
}

# One message as our renderer builds it (plain text, quoted-printable UTF-8, footer with the
# unsubscribe link), but without List-Unsubscribe: Pigeonhole's vacation never answers a
# message with List-* headers ("discarding vacation response to mailinglist recipient"), and
# the reports should show the whole original either way.
outgoing() { # to_name to_addr message_id subject first_name whose token
    cat <<EOF
From: Ada Fischer <$SENDER>
To: $1 <$2>
Subject: $4
Date: $(date -R ${SENT_AT:+-d "$SENT_AT"})
Message-ID: $3
MIME-Version: 1.0
Content-Type: text/plain; charset="utf-8"
Content-Transfer-Encoding: quoted-printable

Hi $5,

Most sales leaders I speak with rebuild their forecast by hand every Monday, =
and are still surprised at quarter end.

Northwind connects read-only to your CRM, scores every open deal on its real =
likelihood to close, and flags the stale ones before they inflate the pipeli=
ne. Reps don't change how they work.

Would 20 minutes be worth it to see $6 pipeline through that lens?

Best,
Ada Fischer
Account Executive, Northwind Analytics
+49 30 5550 1234

Not the right time? Unsubscribe: https://northwind-analytics.example/u/$7
EOF
}

send() { # to_addr message
    /usr/sbin/sendmail -i -f "$SENDER" -- "$1"
}

# Wait until Ada's maildir holds a report that mentions the given Message-ID.
wait_for_report() { # message_id [subject_pattern]
    local deadline=$((SECONDS + WAIT_S)) file
    while ((SECONDS < deadline)); do
        for file in "$ADA_MAILDIR"new/*; do
            [[ -f $file ]] || continue
            if grep -qF -- "$1" "$file" && grep -qE -- "^Subject: ${2:-.}" "$file"; then
                printf '%s\n' "$file"
                return 0
            fi
        done
        postqueue -f 2>/dev/null || true
        sleep 1
    done
    postqueue -p >&2 || true
    die "no delivery report for $1 within ${WAIT_S}s (see /var/log/mail.log or 'postqueue -p')"
}

keep() { # source target_dir name
    [[ -f $1 ]] || die "nothing to keep for $3"
    mkdir -p "$2"
    cp "$1" "$RAW/$3"
    cp "$1" "$2/$3"
    log "wrote ${2#"$REPO/"}/$3"
}

make_postfix_reports() {
    configure_postfix
    start_postfix
    postsuper -d ALL >/dev/null 2>&1 || true

    local unknown="<3f9a1c07d25e48b6a0e4c1b2@northwind-analytics.example>"
    local full="<8b2e6d41f07a4c93b5d1e8a0@northwind-analytics.example>"
    local nodomain="<c41d7e2a9b3f4e5a8d06f1c7@northwind-analytics.example>"
    local delayed="<e07b5a93c1d84f26b3a9e4d5@northwind-analytics.example>"

    log "sending three messages that cannot be delivered"
    outgoing "Paul Hartmann" p.hartmann@kontor-nord.test "$unknown" \
        "Forecast accuracy at Kontor Nord Handels GmbH" Paul "the Kontor Nord" 31.5b0e7c2a9d4f4e18a3c6b1f02d8e7a94 \
        | send p.hartmann@kontor-nord.test
    outgoing "=?utf-8?q?Klaus_M=C3=BCller?=" k.mueller@brauhaus-logistik.test "$full" \
        "Forecast accuracy at Brauhaus Logistik GmbH" Klaus "the Brauhaus Logistik" 2.c8d1f4a7e2b94c05b7a3e6d91f0c2b58 \
        | send k.mueller@brauhaus-logistik.test
    outgoing "Oliver Hughes" o.hughes@fenwick-packaging-ltd.test "$nodomain" \
        "Forecast accuracy at Fenwick Packaging Ltd" Oliver "the Fenwick Packaging" 11.4e9a2c7d1b0f4a83b5e6c2d7f8a91e03 \
        | send o.hughes@fenwick-packaging-ltd.test

    keep "$(wait_for_report "$unknown" Undelivered)" "$MESSAGES/bounce_hard" real-postfix-unknown-user.eml
    keep "$(wait_for_report "$nodomain" Undelivered)" "$MESSAGES/bounce_hard" real-postfix-no-such-domain.eml
    keep "$(wait_for_report "$full" Undelivered)" "$MESSAGES/bounce_soft" real-postfix-mailbox-full.eml

    log "soft_bounce on: a non-existent domain is retried and a delay warning goes out"
    postconf -e "soft_bounce = yes"
    postfix reload
    outgoing "Wei Ling Tan" w.tan@harbourline-freight.test "$delayed" \
        "Forecast accuracy at Harbourline Freight" "Wei Ling" "the Harbourline" 6.a2f7d0c94e1b4b6f8c3d5e7a9b1c0d24 \
        | send w.tan@harbourline-freight.test
    keep "$(wait_for_report "$delayed" "Delayed Mail")" "$MESSAGES/bounce_soft" \
        real-postfix-delayed.eml

    postsuper -d ALL >/dev/null 2>&1 || true
    postconf -e "soft_bounce = no"
}

# --- Dovecot LDA + Pigeonhole vacation -------------------------------------------------------

LDA_DIR="$WORK/lda"
VACATION_SENT_AT="2026-11-30 08:02:00 UTC"   # our touch
VACATION_NOW="2026-11-30 08:15:00"           # the LDA's clock (UTC), a Monday

configure_lda() {
    log "writing a minimal dovecot-lda configuration in $LDA_DIR"
    mkdir -p "$LDA_DIR"/{run,home,out}
    cat >"$LDA_DIR/capture-sendmail.sh" <<EOF
#!/bin/sh
# sendmail_path of the corpus LDA: keep each generated message, with its arguments.
out="$LDA_DIR/out/\$(date +%s%N).\$\$"
printf '%s\n' "\$*" >"\$out.args"
cat >"\$out.eml"
EOF
    chmod 755 "$LDA_DIR/capture-sendmail.sh"
    cat >"$LDA_DIR/dovecot.conf" <<EOF
# Only for dovecot-lda runs of scripts/corpus/make_real_fixtures.sh: no daemon, no ports.
protocols =
base_dir = $LDA_DIR/run
state_dir = $LDA_DIR/run
log_path = $LDA_DIR/lda.log
ssl = no
# Dovecot re-executes itself with a clean environment: keep faketime's variables.
import_environment = TZ LD_PRELOAD FAKETIME FAKETIME_SHARED
hostname = $HOST
postmaster_address = postmaster@northwind-lab.test
sendmail_path = $LDA_DIR/capture-sendmail.sh
mail_location = maildir:~/Maildir
protocol lda {
  mail_plugins = sieve
}
plugin {
  sieve = file:~/sieve;active=~/.dovecot.sieve
}
EOF
    touch "$LDA_DIR/lda.log"
    chown -R nobody:nogroup "$LDA_DIR/home" "$LDA_DIR/out" "$LDA_DIR/run" "$LDA_DIR/lda.log"
}

# vacation_case NAME USER ADDRESS DISPLAY_NAME MESSAGE_ID SUBJECT SIEVE_SCRIPT
vacation_case() {
    local name=$1 user=$2 address=$3 display=$4 mid=$5 subject=$6 script=$7
    local home="$LDA_DIR/home/$user"
    rm -rf "$home" "$LDA_DIR/out"/*
    mkdir -p "$home"
    printf '%s\n' "$script" >"$home/.dovecot.sieve"
    chown -R nobody:nogroup "$home"
    local token
    token="40.$(printf '%s' "$address" | sha256sum | cut -c1-32)"
    SENT_AT="$VACATION_SENT_AT" outgoing "$display" "$address" "$mid" "$subject" \
        "${display%% *}" "your" "$token" | sed 's/$/\r/' >"$LDA_DIR/in-$name.eml"
    # Without -d the LDA needs no auth service: it delivers as the invoking user, to $HOME.
    # The clock is pinned (faketime) so that year-less return dates in the texts ("Monday,
    # December 7") keep meaning the same day whenever the fixtures are regenerated.
    setpriv --reuid=nobody --regid=nogroup --clear-groups \
        env -i PATH=/usr/sbin:/usr/bin:/bin HOME="$home" USER="$user" TZ=UTC \
        faketime -f "@$VACATION_NOW" \
        /usr/lib/dovecot/dovecot-lda -c "$LDA_DIR/dovecot.conf" -a "$address" \
        -f "$SENDER" -p "$LDA_DIR/in-$name.eml"
    local produced=("$LDA_DIR"/out/*.eml)
    [[ -f ${produced[0]} ]] || die "sieve vacation produced no reply for $name (see $LDA_DIR/lda.log)"
    keep "${produced[0]}" "$MESSAGES/ooo" "real-sieve-$name.eml"
}

make_vacation_replies() {
    configure_lda

    vacation_case en-back-monday j.carter j.carter@brightwave-media.test "James Carter" \
        "<5d8e1f3a0c7b4a29b6e2d4f8@northwind-analytics.example>" \
        "Forecast accuracy at Brightwave Media" "$(cat <<'SIEVE'
require ["vacation"];
vacation :days 1 :subject "Out of office: back on Monday, December 7" text:
Hello,

Thank you for your email. I'm out of the office with limited access to
email, and I'm back on Monday, December 7. I'll reply as soon as I can
after that.

If your message is about an existing Brightwave contract, please call our
front desk on +1 212 555 0142.

James Carter
Director of Revenue Operations, Brightwave Media
.
;
SIEVE
)"

    vacation_case en-no-date priya.nair priya.nair@ledgerly.test "Priya Nair" \
        "<a6c3e9d1b4f0472e8d5a1c3b@northwind-analytics.example>" \
        "Forecast accuracy at Ledgerly" "$(cat <<'SIEVE'
require ["vacation"];
vacation :days 1 :subject "Away from my desk" text:
Hi,

I'm currently travelling for our annual sales kick-off with very limited
access to email. I'll get back to you as soon as possible.

Best regards,
Priya Nair
VP Sales, Ledgerly
.
;
SIEVE
)"

    vacation_case de-ab-datum t.becker t.becker@gruenstrom.test "Tobias Becker" \
        "<f2b7a4c8e1d3409c9a6b5e7d@northwind-analytics.example>" \
        "Forecast accuracy at =?utf-8?q?Gr=C3=BCnstrom?= Energie GmbH" "$(cat <<'SIEVE'
require ["vacation"];
vacation :days 1 :subject "Abwesenheitsnotiz" text:
Guten Tag,

vielen Dank für Ihre Nachricht. Ich bin derzeit nicht im Büro und habe
keinen Zugriff auf meine E-Mails. Ab dem 04.01.2027 bin ich wieder
erreichbar.

Ihre Nachricht wird nicht weitergeleitet.

Mit freundlichen Grüßen
Tobias Becker
Head of Sales Operations
Grünstrom Energie GmbH
.
;
SIEVE
)"

    vacation_case de-wieder-am f.wagner f.wagner@wagner-medtec.test "Franziska Wagner" \
        "<09e4c7b2d5a1486f93c0b8e6@northwind-analytics.example>" \
        "Forecast accuracy at Wagner Medtec GmbH" "$(cat <<'SIEVE'
require ["vacation"];
vacation :days 1 :subject "Abwesend: Urlaub" text:
Sehr geehrte Damen und Herren,

ich befinde mich im Urlaub und bin am Montag, den 7. Dezember wieder im
Büro. Ihre E-Mail wird in der Zwischenzeit nicht gelesen.

In dringenden Fällen wenden Sie sich bitte an meine Kollegin Petra Lang
(p.lang@wagner-medtec.test, +49 761 555 2210).

Mit freundlichen Grüßen
Franziska Wagner
Chief Sales Officer
Wagner Medtec GmbH
.
;
SIEVE
)"

    vacation_case en-through o.hughes o.hughes@fenwick-packaging.test "Oliver Hughes" \
        "<7c1a5e9f3b2d4c80a4e6f9b1@northwind-analytics.example>" \
        "Forecast accuracy at Fenwick Packaging Ltd" "$(cat <<'SIEVE'
require ["vacation"];
vacation :days 1 :subject "Annual leave" text:
Hello,

I am on annual leave through December 18 and will not be checking email.
I will read your message when I return.

Kind regards,
Oliver Hughes
Sales Director | Fenwick Packaging Ltd
.
;
SIEVE
)"
}

stop_postfix() {
    if postfix status >/dev/null 2>&1; then
        log "stopping Postfix"
        postsuper -d ALL >/dev/null 2>&1 || true
        postfix stop
    fi
}

main() {
    install_packages
    trap stop_postfix EXIT
    rm -rf "$WORK"
    mkdir -p "$RAW"
    make_postfix_reports
    make_vacation_replies
    log "raw output kept unchanged in $RAW"
}

main "$@"
