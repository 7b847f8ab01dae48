// Walks the Complete contract (SPEC §1.1, §1.2, §1.4, §1.5) of a gws-conform-style
// server with the official CometD JavaScript client, independently of the Rust code.
//
//   node walk.mjs BASE_URL          (agent from GWS_AGENT=user:password,
//                                    default agent1:agent1-pass; provider-state URL from
//                                    GWS_PROVIDER_URL, default BASE_URL/conformance/provider-state)
//
// It logs the agent in over REST, handshakes and subscribes to /v2/me/chats with the
// official client, provisions a chat through provider-state, accepts it, completes it
// with text, and asserts that /v2/me/chats delivered, in this order, the chat's
// StatusChange Invited, StatusChange Chatting, a NewMessages holding a Text message with
// exactly that text, StatusChange Completed, and then nothing at all within 1 s.
// Exit 0 when all of that holds, 1 otherwise. Credentials, cookies and CSRF tokens are
// never printed.

import { adapt } from "cometd-nodejs-client";
import { CometD } from "cometd";

adapt();

const EVENT_DEADLINE_MS = 5000;
const QUIET_MS = 1000;
const TEXT = "Thanks from the CometD JS walk";

class WalkError extends Error {}

function fail(msg) {
    throw new WalkError(msg);
}

function parseArgs() {
    const base = process.argv[2];
    let url;
    try {
        url = new URL(base ?? "");
    } catch {
        url = undefined;
    }
    if (!url || !["http:", "https:"].includes(url.protocol) || url.search || url.hash) {
        fail("usage: node walk.mjs http://HOST:PORT (the server's base URL)");
    }
    const agent = process.env.GWS_AGENT ?? "agent1:agent1-pass";
    const colon = agent.indexOf(":");
    if (colon < 1 || colon === agent.length - 1) {
        fail("GWS_AGENT must be user:password");
    }
    const baseUrl = base.replace(/\/$/, "");
    return {
        base: baseUrl,
        user: agent.slice(0, colon),
        basic: "Basic " + Buffer.from(agent).toString("base64"),
        provider: process.env.GWS_PROVIDER_URL ?? `${baseUrl}/conformance/provider-state`,
    };
}

// ---------------------------------------------------------------- REST (fetch)

/** fetch, with an unreachable server reported as a clear error. */
async function request(url, init, what) {
    try {
        return await fetch(url, init);
    } catch (e) {
        fail(`${what}: cannot reach ${url}: ${e?.cause?.code ?? e?.cause?.message ?? e?.message ?? e}`);
    }
}

async function readJson(res, what) {
    const body = await res.text();
    try {
        return JSON.parse(body);
    } catch {
        fail(`${what}: HTTP ${res.status}, body is not JSON: ${body.slice(0, 200)}`);
    }
}

async function login(cfg) {
    const res = await request(`${cfg.base}/api/v2/me`, { headers: { Authorization: cfg.basic } }, "GET /api/v2/me");
    const me = await readJson(res, "GET /api/v2/me");
    if (res.status !== 200 || me.statusCode !== 0) {
        fail(`GET /api/v2/me: HTTP ${res.status}, statusCode ${me.statusCode}`);
    }
    const jsession = res.headers
        .getSetCookie()
        .map((c) => c.split(";")[0].trim())
        .find((c) => c.startsWith("JSESSIONID="));
    if (!jsession) {
        fail("GET /api/v2/me set no JSESSIONID cookie");
    }
    const csrfName = res.headers.get("X-CSRF-HEADER");
    const csrfValue = res.headers.get("X-CSRF-TOKEN");
    const headers = { Authorization: cfg.basic, Cookie: jsession, "Content-Type": "application/json" };
    if (csrfName && csrfValue) {
        headers[csrfName] = csrfValue;
    }
    console.log(`login: ${cfg.user} (CSRF ${csrfName ? "on" : "off"})`);
    return { cookie: jsession, headers };
}

async function agentPost(cfg, session, path, body) {
    const res = await request(
        `${cfg.base}/api/v2${path}`,
        { method: "POST", headers: session.headers, body: JSON.stringify(body) },
        `POST ${path} ${body.operationName}`,
    );
    const json = await readJson(res, `POST ${path} ${body.operationName}`);
    console.log(`POST ${path} ${body.operationName}: HTTP ${res.status} ${JSON.stringify(json)}`);
    if (res.status !== 200 || json.statusCode !== 0) {
        fail(`POST ${path} ${body.operationName} was refused`);
    }
    return json;
}

async function providerState(cfg, state, params) {
    const res = await request(
        cfg.provider,
        {
            method: "POST",
            headers: { "Content-Type": "application/json" },
            body: JSON.stringify({ action: "setup", state, params }),
        },
        `provider-state ${state}`,
    );
    const json = await readJson(res, `provider-state ${state}`);
    if (res.status !== 200) {
        fail(`provider-state ${state}: HTTP ${res.status} ${JSON.stringify(json)}`);
    }
    return json;
}

// ---------------------------------------------------------------- Bayeux (official client)

function bayeux(cfg, session) {
    const cometd = new CometD();
    // GWS notifications are long-polling only (SPEC §1.4).
    cometd.unregisterTransport("websocket");
    cometd.configure({
        url: `${cfg.base}/api/v2/notifications`,
        // The client's default posts to .../notifications/handshake, /connect, ...;
        // SPEC §1.4 has one endpoint, {base}/api/v2/notifications.
        appendMessageTypeToURL: false,
        requestHeaders: { Authorization: cfg.basic, Cookie: session.cookie },
        logLevel: "warn",
    });
    return cometd;
}

function handshake(cometd) {
    return new Promise((resolve, reject) => {
        cometd.handshake((reply) => {
            if (reply.successful) {
                resolve(reply);
            } else {
                reject(new WalkError(`/meta/handshake failed: ${JSON.stringify(reply.error ?? reply)}`));
            }
        });
    });
}

function subscribe(cometd, channel, onMessage) {
    return new Promise((resolve, reject) => {
        cometd.subscribe(channel, onMessage, (reply) => {
            if (reply.successful) {
                resolve(reply);
            } else {
                reject(new WalkError(`/meta/subscribe ${channel} failed: ${JSON.stringify(reply.error ?? reply)}`));
            }
        });
    });
}

function disconnect(cometd) {
    return new Promise((resolve) => {
        const t = setTimeout(resolve, 2000);
        cometd.disconnect(() => {
            clearTimeout(t);
            resolve();
        });
    });
}

// ---------------------------------------------------------------- notifications

/** Every /v2/me/chats notification, in arrival order, with waiters. */
class Inbox {
    list = [];
    #waiters = [];

    push(data) {
        this.list.push(data);
        console.log(`  notification ${this.list.length}: ${describe(data)}`);
        for (const w of [...this.#waiters]) {
            w();
        }
    }

    /** Resolves with the first notification matching `pred`, or fails after the deadline. */
    waitFor(what, pred) {
        return new Promise((resolve, reject) => {
            const check = () => {
                const hit = this.list.find(pred);
                if (hit) {
                    done();
                    resolve(hit);
                    return true;
                }
                return false;
            };
            const timer = setTimeout(() => {
                done();
                reject(new WalkError(`no ${what} within ${EVENT_DEADLINE_MS} ms`));
            }, EVENT_DEADLINE_MS);
            const done = () => {
                clearTimeout(timer);
                this.#waiters = this.#waiters.filter((w) => w !== waiter);
            };
            const waiter = () => {
                check();
            };
            if (!check()) {
                this.#waiters.push(waiter);
            }
        });
    }
}

function chatIdOf(d) {
    return d?.chat?.id ?? (typeof d?.chatUri === "string" ? d.chatUri.split("/").pop() : undefined);
}

function describe(d) {
    if (d?.notificationType === "StatusChange") {
        return `StatusChange ${d.chat?.state} chat ${chatIdOf(d)}`;
    }
    if (d?.notificationType === "NewMessages") {
        const types = (d.messages ?? []).map((m) => (m.type === "Text" ? `Text ${JSON.stringify(m.text)}` : m.type));
        return `NewMessages [${types.join(", ")}] chat ${chatIdOf(d)}`;
    }
    return `${d?.notificationType ?? "?"} chat ${chatIdOf(d)}`;
}

const isStatus = (chatId, state) => (d) =>
    d?.messageType === "ChatStateChangeMessage" &&
    d.notificationType === "StatusChange" &&
    chatIdOf(d) === chatId &&
    d.chat?.state === state;

const isOurText = (chatId) => (d) =>
    d?.messageType === "MessageLogUpdated" &&
    d.notificationType === "NewMessages" &&
    chatIdOf(d) === chatId &&
    (d.messages ?? []).some((m) => m.type === "Text" && m.text === TEXT);

/** The order check: the milestones in the full list, and nothing after Completed. */
function judge(list, chatId) {
    const milestones = [
        ["StatusChange Invited", isStatus(chatId, "Invited")],
        ["StatusChange Chatting", isStatus(chatId, "Chatting")],
        [`NewMessages with Text ${JSON.stringify(TEXT)}`, isOurText(chatId)],
        ["StatusChange Completed", isStatus(chatId, "Completed")],
    ];
    const errors = [];
    const at = milestones.map(([name, pred]) => {
        const idx = list.map((d, i) => (pred(d) ? i : -1)).filter((i) => i >= 0);
        if (idx.length !== 1) {
            errors.push(`${name}: expected exactly once, got ${idx.length} time(s)`);
        }
        return idx[0];
    });
    for (let k = 1; k < at.length; k++) {
        if (at[k - 1] !== undefined && at[k] !== undefined && at[k - 1] > at[k]) {
            errors.push(`${milestones[k][0]} (#${at[k] + 1}) arrived before ${milestones[k - 1][0]} (#${at[k - 1] + 1})`);
        }
    }
    const completed = at[3];
    if (completed !== undefined && completed !== list.length - 1) {
        const extra = list.slice(completed + 1).map(describe);
        errors.push(`after StatusChange Completed, within ${QUIET_MS} ms: ${extra.join("; ")}`);
    }
    return errors;
}

// ---------------------------------------------------------------- the walk

async function walk() {
    const cfg = parseArgs();
    console.log(`target: ${cfg.base}`);
    const session = await login(cfg);
    await agentPost(cfg, session, "/me", { operationName: "StartContactCenterSession", channels: ["chat"] });
    await agentPost(cfg, session, "/me/channels/chat", { operationName: "Ready" });

    const cometd = bayeux(cfg, session);
    const inbox = new Inbox();
    try {
        const hs = await handshake(cometd);
        console.log(`/meta/handshake: successful, transport ${cometd.getTransport()?.type}, version ${hs.version}`);
        await subscribe(cometd, "/v2/me/chats", (m) => inbox.push(m.data));
        console.log("/meta/subscribe /v2/me/chats: successful");

        const offered = await providerState(cfg, "chat offered", { agent: cfg.user, nickname: "JsWalk" });
        const chatId = offered.chatId;
        if (typeof chatId !== "string" || chatId === "") {
            fail(`provider-state chat offered answered no chatId: ${JSON.stringify(offered)}`);
        }
        console.log(`provider-state chat offered: chat ${chatId}`);
        await inbox.waitFor("StatusChange Invited", isStatus(chatId, "Invited"));

        await agentPost(cfg, session, `/me/chats/${chatId}`, { operationName: "Accept", nickname: "JsAgent" });
        await inbox.waitFor("StatusChange Chatting", isStatus(chatId, "Chatting"));

        await agentPost(cfg, session, `/me/chats/${chatId}`, { operationName: "Complete", text: TEXT });
        await inbox.waitFor("StatusChange Completed", isStatus(chatId, "Completed"));
        await new Promise((r) => setTimeout(r, QUIET_MS));

        const errors = judge(inbox.list, chatId);
        if (errors.length > 0) {
            fail(`notification order on /v2/me/chats is wrong:\n  - ${errors.join("\n  - ")}`);
        }
        console.log(
            `OK: Invited, Chatting, NewMessages with the text, Completed, then nothing for ${QUIET_MS} ms ` +
                `(${inbox.list.length} notifications in all)`,
        );
    } finally {
        await disconnect(cometd);
    }
}

try {
    await walk();
    process.exit(0);
} catch (e) {
    console.error(`FAIL: ${e instanceof WalkError ? e.message : e?.stack ?? e}`);
    process.exit(1);
}
