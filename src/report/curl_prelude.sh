GWS_PROVIDER_URL="${GWS_PROVIDER_URL:-$GWS_TARGET/conformance/provider-state}"
GWS_CONTACT_CENTER_ID="${GWS_CONTACT_CENTER_ID:-gws-conform}"
GWS_PROVISIONING="${GWS_PROVISIONING:-@PROVISIONING@}"
TIMEOUT="${GWS_TIMEOUT:-10}"
LOGGED=""
WORK="$(mktemp -d)"
POLLERS=""
QUIET="@QUIET@"
PAUSE="${GWS_STEP_PAUSE:-0.5}"
# On exit: stop the long-poll loops (each kills its pending poll), remove the files.
cleanup() {
  local p
  for p in $POLLERS; do kill "$p" 2>/dev/null || true; done
  for p in $POLLERS; do wait "$p" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT

# creds N: writes agent N's credentials as a curl config file ($WORK/credsN, mode 600,
# removed on exit), so they never appear on a command line.
creds() {
  local u p
  if [ "$1" = 2 ]; then u="$GWS_USER2"; p="$GWS_PASSWORD2"; else u="$GWS_USER"; p="$GWS_PASSWORD"; fi
  u="${u//\\/\\\\}"; u="${u//\"/\\\"}"; p="${p//\\/\\\\}"; p="${p//\"/\\\"}"
  (umask 077; printf 'user = "%s:%s"\n' "$u" "$p" > "$WORK/creds$1")
}

# login N: session cookie in $WORK/jarN, CSRF header line in $WORK/csrfN, agent Ready.
login() {
  local n="$1" name value
  creds "$n"
  curl -sS --max-time "$TIMEOUT" -K "$WORK/creds$n" -c "$WORK/jar$n" -b "$WORK/jar$n" \
    -D "$WORK/headers$n" -o /dev/null "$GWS_TARGET/api/v2/me"
  name="$(grep -i '^x-csrf-header:' "$WORK/headers$n" | head -n1 | cut -d: -f2- | tr -d ' \r' || true)"
  value="$(grep -i '^x-csrf-token:' "$WORK/headers$n" | head -n1 | cut -d: -f2- | tr -d ' \r' || true)"
  if [ -n "$name" ] && [ -n "$value" ]; then
    printf 'header = "%s: %s"\n' "$name" "$value" > "$WORK/csrf$n"
  else
    : > "$WORK/csrf$n"   # the target runs without CSRF
  fi
  agent "$n" normal POST /api/v2/me '{"operationName":"StartContactCenterSession","channels":["chat"]}'
  agent "$n" normal POST /api/v2/me/channels/chat '{"operationName":"Ready"}'
  LOGGED="$LOGGED $n"
  bayeux "$n"
}

# say TEXT: a line of the script's narrative on stdout (what runs, what is expected).
say() {
  printf '%s\n' "$1"
}

# notifications N: reads one /meta/connect answer on stdin and prints each notification
# of agent N on its own line (control characters from the target made visible).
notifications() {
  python3 -c '
import json, sys
def t(x):
    return json.dumps(str(x))[1:-1]
n = sys.argv[1]
raw = sys.stdin.read().strip()
if not raw:
    sys.exit(0)
try:
    msgs = json.loads(raw)
except ValueError:
    print("agent%s: /meta/connect answered something that is not JSON: %s" % (n, t(raw[:200])))
    sys.exit(0)
if isinstance(msgs, dict):
    msgs = [msgs]
for m in msgs if isinstance(msgs, list) else []:
    if not isinstance(m, dict):
        continue
    if str(m.get("channel", "")).startswith("/meta/"):
        if m.get("successful") is False:
            print("agent%s: %s failed: %s" % (n, t(m.get("channel")), t(json.dumps(m)[:300])))
        continue
    d = m.get("data")
    if not isinstance(d, dict):
        print("notification agent%s: %s (no data)" % (n, t(m.get("channel"))))
        continue
    out = ["notification agent%s:" % n, t(d.get("notificationType") or d.get("messageType") or "?")]
    chat = d.get("chat")
    if isinstance(chat, dict) and "state" in chat:
        out.append("state=" + t(chat["state"]))
    for msg in d.get("messages") or []:
        if isinstance(msg, dict):
            who = msg.get("from")
            who = who.get("type") if isinstance(who, dict) else None
            item = t(msg.get("type", "?")) + ("(" + t(who) + ")" if who else "")
            if msg.get("text"):
                item += " \"" + t(msg["text"]) + "\""
            out.append(item)
    if "referenceId" in d:
        out.append("referenceId=" + t(d["referenceId"]))
    print(" ".join(out), flush=True)
' "$1" || true
}

# bayeux N: agent N handshakes, subscribes to /v2/me/chats and starts the /meta/connect
# long-poll loop in the background (same cookie jar; its notifications are printed).
bayeux() {
  local n="$1" cid
  local args=(-sS --max-time "$TIMEOUT" -K "$WORK/creds$n" -b "$WORK/jar$n" -c "$WORK/jar$n" -K "$WORK/csrf$n" -H 'Content-Type: application/json')
  cid="$(curl "${args[@]}" --data-binary '[{"channel":"/meta/handshake","version":"1.0","supportedConnectionTypes":["long-polling"]}]' "$GWS_TARGET/api/v2/notifications" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["clientId"])' 2>/dev/null)" || cid=""
  if [ -z "$cid" ]; then
    say "agent$n: the Bayeux handshake gave no clientId: notifications are not shown"
    return 0
  fi
  curl "${args[@]}" -o /dev/null --data-binary "[{\"channel\":\"/meta/subscribe\",\"clientId\":\"$cid\",\"subscription\":\"/v2/me/chats\"}]" "$GWS_TARGET/api/v2/notifications" || true
  poll_loop "$n" "$cid" &
  POLLERS="$POLLERS $!"
}

# poll_loop N CLIENT_ID: /meta/connect again and again (each poll is held by the target
# until a notification is queued or its advice timeout passes).
poll_loop() {
  local n="$1" cid="$2" pid=""
  set +e
  trap 'kill "$pid" 2>/dev/null; exit 0' TERM
  while :; do
    curl -sS --max-time 60 -K "$WORK/creds$n" -b "$WORK/jar$n" -K "$WORK/csrf$n" \
      -H 'Content-Type: application/json' -o "$WORK/poll$n" \
      --data-binary "[{\"channel\":\"/meta/connect\",\"clientId\":\"$cid\",\"connectionType\":\"long-polling\"}]" \
      "$GWS_TARGET/api/v2/notifications" 2>/dev/null &
    pid=$!
    wait "$pid" || sleep 1
    notifications "$n" < "$WORK/poll$n"
  done
}

# agent N AUTH METHOD PATH [BODY]: one agent request; prints the body and the HTTP status.
# AUTH: normal | no_credentials | cookie_only | no_csrf | foreign_csrf | foreign_basic
# (foreign_*: the other agent's CSRF token, or its Basic credentials, on agent N's session)
agent() {
  local n="$1" auth="$2" method="$3" path="$4"
  local args=(-sS --max-time "$TIMEOUT" -X "$method" -w '\nHTTP %{http_code}\n')
  case "$auth" in
    normal)         args+=(-K "$WORK/creds$n" -b "$WORK/jar$n" -c "$WORK/jar$n" -K "$WORK/csrf$n") ;;
    no_credentials) ;;
    cookie_only)    args+=(-b "$WORK/jar$n" -K "$WORK/csrf$n") ;;
    no_csrf)        args+=(-K "$WORK/creds$n" -b "$WORK/jar$n") ;;
    foreign_csrf)   args+=(-K "$WORK/creds$n" -b "$WORK/jar$n" -K "$WORK/csrf$((3 - n))") ;;
    foreign_basic)  args+=(-K "$WORK/creds$((3 - n))" -b "$WORK/jar$n" -K "$WORK/csrf$n") ;;
  esac
  if [ "$#" -ge 5 ]; then
    args+=(-H 'Content-Type: application/json' --data-binary "$5")
  fi
  echo ">>> $method $path" >&2
  # One write per answer, so the notification lines printed meanwhile stay whole.
  local out rc=0
  out="$(curl "${args[@]}" "$GWS_TARGET$path")" || rc=$?
  if [ "$rc" -eq 0 ]; then
    printf '%s\n' "$out"
  else
    printf '%s\n(no answer: curl exit %s)\n' "$out" "$rc"
  fi
}

# json K V [K V ...]: a JSON object of string values (exactly escaped).
json() {
  python3 -c 'import json,sys; a=sys.argv[1:]; print(json.dumps(dict(zip(a[::2], a[1::2]))))' "$@"
}

# field NAME: reads a JSON object on stdin and prints its field NAME; fails, quoting
# the answer, when it has none.
field() {
  python3 -c '
import json, sys
raw = sys.stdin.read()
try:
    print(json.loads(raw)[sys.argv[1]])
except (ValueError, KeyError, TypeError, IndexError):
    sys.exit("no %r in the answer: %s" % (sys.argv[1], raw.strip()[:300] or "(empty)"))
' "$1"
}

# provider ACTION STATE PARAMS_JSON: one provider-state call; prints the answer.
provider() {
  if [ -z "$GWS_PROVIDER_URL" ]; then
    echo "GWS_PROVIDER_URL is not set: cannot $1 '$2'" >&2
    return 1
  fi
  curl -sS --max-time "$TIMEOUT" -H 'Content-Type: application/json' \
    --data-binary "{\"action\":\"$1\",\"state\":\"$2\",\"params\":$3}" "$GWS_PROVIDER_URL"
}

# customer METHOD PATH [BODY]: one Customer Chat API call (no Authorization).
customer() {
  local args=(-sS --max-time "$TIMEOUT" -X "$1" -H "ContactCenterId: $GWS_CONTACT_CENTER_ID")
  if [ "$#" -ge 3 ]; then args+=(-H 'Content-Type: application/json' --data-binary "$3"); fi
  curl "${args[@]}" "$GWS_TARGET$2"
}

# my_chats N: the ids of agent N's chats, one per line.
my_chats() {
  curl -sS --max-time "$TIMEOUT" -K "$WORK/creds$1" -b "$WORK/jar$1" -c "$WORK/jar$1" \
    "$GWS_TARGET/api/v2/me/chats" |
    python3 -c 'import json,sys; [print(c["id"]) for c in json.load(sys.stdin).get("chats", [])]'
}

# offer N USER: a customer asks for a chat that is offered to agent N; prints
# "<agent-side id> <customer-side id or ->".
offer() {
  if [ "$GWS_PROVISIONING" = customer-api ]; then
    local before cust now new i o others=""
    # The target offers a requested chat to any Ready agent: the other agents are
    # NotReady until agent N has it.
    for o in $LOGGED; do
      if [ "$o" != "$1" ]; then
        others="$others $o"
        agent "$o" normal POST /api/v2/me/channels/chat '{"operationName":"NotReady"}' >&2
      fi
    done
    before="$(my_chats "$1" | sort)"
    cust="$(customer POST /api/v2/chats "$(json operationName RequestChat nickname 'gws-conform customer' subject 'gws-conform replay')" | field id)" || cust=""
    new=""
    if [ -n "$cust" ]; then
      for i in $(seq 1 20); do   # bounded: at most 20 looks, 0.5 s apart
        now="$(my_chats "$1" | sort)"
        new="$(comm -13 <(printf '%s\n' "$before") <(printf '%s\n' "$now") | grep -v '^$' | head -n1 || true)"
        if [ -n "$new" ]; then break; fi
        sleep 0.5
      done
    fi
    for o in $others; do
      agent "$o" normal POST /api/v2/me/channels/chat '{"operationName":"Ready"}' >&2
    done
    if [ -n "$new" ]; then echo "$new $cust"; return 0; fi
    [ -z "$cust" ] || echo "no chat was offered to agent $1 within 10 s" >&2
    return 1
  fi
  local id
  id="$(provider setup 'chat offered' "$(json agent "$2" nickname 'gws-conform customer')" | field chatId)" || return 1
  echo "$id -"
}

# customer_sends CHAT CUSTOMER_CHAT TEXT
customer_sends() {
  if [ "$GWS_PROVISIONING" = customer-api ]; then
    customer POST "/api/v2/chats/$2" "$(json operationName SendMessage text "$3")"
  else
    provider setup 'customer sends message' "$(json chatId "$1" text "$3")"
  fi
  echo
}

# customer_leaves CHAT CUSTOMER_CHAT
customer_leaves() {
  if [ "$GWS_PROVISIONING" = customer-api ]; then
    customer POST "/api/v2/chats/$2" "$(json operationName Complete)"
  else
    provider setup 'customer leaves' "$(json chatId "$1")"
  fi
  echo
}

# inspect CHAT CUSTOMER_CHAT: what the customer side knows about the chat.
inspect() {
  if [ "$GWS_PROVISIONING" = customer-api ]; then
    customer GET "/api/v2/chats/$2"; echo
    customer GET "/api/v2/chats/$2/messages"
  else
    provider inspect 'chat offered' "$(json chatId "$1")"
  fi
  echo
}

