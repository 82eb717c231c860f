"""Keeps docker-compose.cluster.yml and deploy/nginx.conf in step with the code, without Docker.

1. compose-go (main.go) parses and schema-validates docker-compose.cluster.yml;
2. its shape: 3 Kafka nodes in one quorum with replication 3 / min ISR 2, PostgreSQL, two of
   each service behind nginx, health checks and the depends_on conditions between them, and
   every published port on 127.0.0.1;
3. deploy/nginx.conf passes `nginx -t` and then runs (Debian's nginx) in front of the services;
4. each kafka-orders service runs here with the exact command and environment of its compose
   entry, in depends_on order, with only the addresses pointed at this machine: kafka-N:29092
   at the local 3-node cluster (plus its SASL_SSL client settings, as KAFKA_ORDERS_KAFKA_*;
   the compose cluster speaks PLAINTEXT inside Docker), postgres:5432 at the local PostgreSQL
   (a new, empty database), and each instance and the load balancer at a port of its own,
   since two instances cannot both have :3001 on one machine. Each compose health check is
   run as written, then orders go through the load balancer: both producers take some, every
   order reaches both Orders APIs alike, an Idempotency-Key retry that lands on the other
   producer is answered once, and with one producer and one Orders API stopped everything
   still goes through. Every process must exit 0 on its stop signal.

usage: python3 tests/compose/check_cluster.py     (with fixtures/kafka-cluster/cluster.sh and
       fixtures/postgres/postgres.sh started, and target/debug/kafka-orders built)
"""
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.path.join(ROOT, "target", "debug", "kafka-orders")
COMPOSE = os.path.join(ROOT, "docker-compose.cluster.yml")
CLUSTER = os.path.join(ROOT, "fixtures", "kafka-cluster", "cluster.sh")
POSTGRES = os.path.join(ROOT, "fixtures", "postgres", "postgres.sh")
CLIENT_PROPERTIES = os.path.join(ROOT, ".cache", "kafka-cluster", "client.properties")
SEED = {"userId": "user123", "products": [{"id": "prod-1", "name": "Product 1", "price": 19.99, "quantity": 2}], "totalAmount": 39.98}
WORK = tempfile.mkdtemp(prefix="compose-cluster-")
# nginx's workers run as nobody here: they must reach their temporary folders under WORK.
os.chmod(WORK, 0o755)
checks = 0
failures = []


def check(condition, message):
    global checks
    checks += 1
    if not condition:
        failures.append(message)
        print(f"FAIL {message}", flush=True)
    return bool(condition)


def done():
    if failures and os.listdir(WORK):
        print(f"compose-cluster-check: the processes' logs, nginx's access log and config are in {WORK}")
    else:
        shutil.rmtree(WORK, ignore_errors=True)
    print(f"compose-cluster-check: {checks - len(failures)} passed, {len(failures)} failed")
    sys.exit(1 if failures else 0)


def seconds(duration, default=0.0):
    """A compose duration ("1m30s", "500ms") in seconds."""
    if not duration:
        return default
    units = {"h": 3600, "m": 60, "s": 1, "ms": 0.001, "us": 1e-6, "ns": 1e-9}
    return sum(float(n) * units[u] for n, u in re.findall(r"([\d.]+)(ms|us|ns|h|m|s)", duration))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# Straight to 127.0.0.1, whatever http_proxy says.
opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def http(method, url, body=None, headers=None, timeout=10):
    """(status, headers, parsed JSON or text); 4xx/5xx answers are returned, not raised."""
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data, method=method, headers={"Content-Type": "application/json", **(headers or {})})
    try:
        with opener.open(request, timeout=timeout) as response:
            status, head, raw = response.status, response.headers, response.read()
    except urllib.error.HTTPError as err:
        status, head, raw = err.code, err.headers, err.read()
    try:
        return status, head, json.loads(raw)
    except ValueError:
        return status, head, raw.decode(errors="replace")


def eventually(probe, seconds_=30.0, every=0.2):
    """probe()'s first truthy value within the time, else None."""
    deadline = time.monotonic() + seconds_
    while True:
        try:
            value = probe()
        except OSError:
            value = None
        if value or time.monotonic() > deadline:
            return value
        time.sleep(every)


# ---- 1. compose-go: the file as `docker compose` reads it -------------------------------------
parsed = subprocess.run(["go", "run", ".", COMPOSE], cwd=os.path.dirname(os.path.abspath(__file__)), capture_output=True, text=True)
if not check(parsed.returncode == 0, f"compose-go does not accept docker-compose.cluster.yml:\n{parsed.stderr[-2000:]}"):
    done()
services = json.loads(parsed.stdout)["services"]
if not check({"postgres", "lb"} <= set(services), f"services named postgres and lb: {sorted(services)}"):
    done()


def env(name):
    return services[name].get("environment") or {}


def role(name):
    """producer, consumer, orders-api or console for a kafka-orders service; None otherwise."""
    s = services[name]
    return s["command"][0] if s.get("image") == "kafka-orders:latest" and s.get("command") else None


def listen_port(name):
    command = services[name]["command"]
    return int(command[command.index("--listen") + 1].rsplit(":", 1)[1]) if "--listen" in command else None


def depends(name):
    return {d: c.get("condition") for d, c in (services[name].get("depends_on") or {}).items()}


# ---- 2. its shape ------------------------------------------------------------------------------
kafka = sorted(n for n in services if services[n].get("image", "").startswith("apache/kafka:"))
check(len(kafka) == 3, f"three Kafka nodes from the official apache/kafka image: {kafka}")
node_id = {n: env(n).get("KAFKA_NODE_ID") for n in kafka}
check(len(set(node_id.values())) == len(kafka) and None not in node_id.values(), f"distinct KAFKA_NODE_IDs: {node_id}")
check(len({env(n).get("CLUSTER_ID") for n in kafka}) == 1 and env(kafka[0]).get("CLUSTER_ID"), "one CLUSTER_ID on every node")
internal = {}  # node name -> the host:port the services reach it at
for n in kafka:
    e = env(n)
    listeners = dict(l.split("://", 1) for l in e.get("KAFKA_LISTENERS", "").split(",") if "://" in l)
    advertised = dict(l.split("://", 1) for l in e.get("KAFKA_ADVERTISED_LISTENERS", "").split(",") if "://" in l)
    controller_port = listeners.get("CONTROLLER", ":").rsplit(":", 1)[1]
    voters = sorted(f"{node_id[m]}@{m}:{controller_port}" for m in kafka)
    check(sorted(e.get("KAFKA_CONTROLLER_QUORUM_VOTERS", "").split(",")) == voters,
          f"{n}: the quorum voters are the three nodes {voters}")
    check(set(e.get("KAFKA_PROCESS_ROLES", "").split(",")) == {"broker", "controller"}, f"{n} is broker and controller")
    for key, value in [("KAFKA_DEFAULT_REPLICATION_FACTOR", "3"), ("KAFKA_MIN_INSYNC_REPLICAS", "2"),
                       ("KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR", "3"), ("KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR", "3"),
                       ("KAFKA_TRANSACTION_STATE_LOG_MIN_ISR", "2"), ("KAFKA_AUTO_CREATE_TOPICS_ENABLE", "false")]:
        check(str(e.get(key)).lower() == value, f"{n}: {key}={value} (is {e.get(key)})")
    internal_addr = advertised.get(e.get("KAFKA_INTER_BROKER_LISTENER_NAME"), "")
    check(internal_addr == f"{n}:29092", f"{n} advertises {n}:29092 to the services, got {internal_addr!r}")
    internal[n] = internal_addr
    published = [p for p in services[n].get("ports", [])]
    host = advertised.get("HOST", "")
    check(len(published) == 1 and host == f"localhost:{published[0]['published']}" and listeners.get("HOST", "").endswith(f":{published[0]['target']}"),
          f"{n}: the HOST listener is published on the port it advertises ({host}, {published})")
    test = " ".join(services[n].get("healthcheck", {}).get("test", []))
    check(":29092" in test, f"{n} is health-checked on its INTERNAL listener")
    check(any(v.get("target") == e.get("KAFKA_LOG_DIRS") and v.get("type") == "volume" for v in services[n].get("volumes", [])),
          f"{n} keeps its log in a named volume")

postgres = [n for n in services if services[n].get("image", "").startswith("postgres:")]
check(postgres == ["postgres"], f"one PostgreSQL from the official image, named postgres: {postgres}")
pg = env("postgres")
check("pg_isready" in " ".join(services["postgres"].get("healthcheck", {}).get("test", [])), "postgres is health-checked with pg_isready")
check(any(v.get("type") == "volume" and v.get("target", "").startswith("/var/lib/postgresql") for v in services["postgres"].get("volumes", [])),
      "postgres keeps its data in a named volume")

roles = {}
for name in services:
    if role(name):
        roles.setdefault(role(name), []).append(name)
for r in ("producer", "consumer", "orders-api"):
    check(len(roles.get(r, [])) == 2, f"two {r} services: {roles.get(r)}")
check(len(roles.get("console", [])) <= 1, f"at most one console: {roles.get('console')}")
builders = [n for n in services if "build" in services[n]]
check(len(builders) == 1 and role(builders[0]), f"one kafka-orders service builds the image: {builders}")
ours = sorted(n for n in services if role(n))
for name in ours:
    test = services[name].get("healthcheck", {}).get("test", [])
    path = "/healthz" if role(name) == "console" else "/readyz"
    check(test[:3] == ["CMD", "kafka-orders", "probe"] and test[-1:] == [f"http://127.0.0.1:{listen_port(name)}{path}"],
          f"{name} is health-checked on its own {path}: {test}")

exposed = [(n, p.get("host_ip")) for n, s in services.items() for p in s.get("ports", [])]
check(all(ip == "127.0.0.1" for _, ip in exposed), f"every published port is on 127.0.0.1: {exposed}")
for name in roles.get("producer", []) + roles.get("orders-api", []) + roles.get("consumer", []):
    check(not services[name].get("ports"), f"{name} publishes nothing: the load balancer is the way in")

lb = [n for n in services if services[n].get("image", "").split(":")[0] in ("nginx", "library/nginx")]
check(lb == ["lb"], f"one nginx (the official image) named lb: {lb}")
mount = [v for v in services["lb"].get("volumes", []) if v.get("target") == "/etc/nginx/nginx.conf"]
check(len(mount) == 1 and mount[0].get("source") == os.path.join(ROOT, "deploy", "nginx.conf") and mount[0].get("read_only"),
      f"lb mounts deploy/nginx.conf read-only as /etc/nginx/nginx.conf: {mount}")
check(services["lb"].get("healthcheck", {}).get("test"), "lb has a health check")
lb_ports = sorted(int(p["target"]) for p in services["lb"].get("ports", []))
check(lb_ports == sorted(int(p["published"]) for p in services["lb"].get("ports", [])), "lb is published on its own port numbers")

healthy = lambda *names: {n: "service_healthy" for n in names}
for name in roles.get("producer", []):
    check(depends(name) == healthy(*kafka, "postgres"), f"{name} waits for every Kafka node and PostgreSQL: {depends(name)}")
for name in roles.get("orders-api", []):
    check(depends(name) == healthy("postgres"), f"{name} waits for PostgreSQL: {depends(name)}")
for name in roles.get("consumer", []) + roles.get("console", []):
    check(depends(name) == healthy(*kafka, "lb"), f"{name} waits for every Kafka node and the load balancer: {depends(name)}")
check(depends("lb") == healthy(*roles.get("producer", []), *roles.get("orders-api", [])),
      f"lb waits for every producer and Orders API: {depends('lb')}")

brokers = ",".join(internal[n] for n in kafka)
for name in ours:
    if role(name) != "orders-api":
        check(sorted(env(name).get("KAFKA_ORDERS_BROKERS", "").split(",")) == sorted(brokers.split(",")),
              f"{name} bootstraps from all three nodes: {env(name).get('KAFKA_ORDERS_BROKERS')}")
        check(env(name).get("KAFKA_ORDERS_REPLICATION_FACTOR") in ("3", "-1"), f"{name} creates topics with 3 replicas")
database = f"postgres://{pg.get('POSTGRES_USER')}:{pg.get('POSTGRES_PASSWORD')}@postgres:5432/{pg.get('POSTGRES_DB')}"
for name in roles.get("producer", []) + roles.get("orders-api", []):
    check(env(name).get("KAFKA_ORDERS_DATABASE_URL") == database, f"{name} uses the compose PostgreSQL ({database})")
for name in roles.get("consumer", []) + roles.get("console", []):
    url = urllib.parse.urlparse(env(name).get("KAFKA_ORDERS_ORDERS_API_URL", ""))
    check(url.hostname == "lb" and url.port in lb_ports, f"{name} reaches the Orders APIs through the load balancer: {url.geturl()}")
    for api in roles.get("orders-api", []):
        check(url.hostname in env(api).get("KAFKA_ORDERS_ALLOWED_HOSTS", "").split(","), f"{api} answers to {url.hostname!r}, the name {name} uses")
for name in roles.get("producer", []):
    url = urllib.parse.urlparse(env(name).get("KAFKA_ORDERS_ORDERS_API_URL", ""))
    check(url.hostname == "localhost" and url.port in lb_ports, f"{name}'s Location headers name the Orders API as the host reaches it: {url.geturl()}")

# ---- 3. deploy/nginx.conf: upstreams are the compose services, and nginx accepts it ------------
NGINX = os.path.join(ROOT, "deploy", "nginx.conf")
conf = open(NGINX).read()
body = re.sub(r"#.*", "", conf)
upstreams = {m.group(1): re.findall(r"^\s*server\s+([\w.-]+:\d+)", m.group(2), re.M)
             for m in re.finditer(r"upstream\s+(\w+)\s*\{(.*?)\}", body, re.S)}
servers = [(int(m.group(1)), m.group(2)) for m in re.finditer(r"listen\s+(\d+)\s*;.*?proxy_pass\s+http://(\w+)\s*;", body, re.S)]
check(sorted(p for p, _ in servers) == lb_ports, f"nginx listens on lb's ports {lb_ports}: {servers}")
for port, upstream in servers:
    members = sorted(upstreams.get(upstream, []))
    group = [n for n in ours if listen_port(n) == port and role(n) in ("producer", "orders-api")]
    check(members == sorted(f"{n}:{port}" for n in group) and len(group) == 2,
          f"nginx :{port} balances over {sorted(f'{n}:{port}' for n in group)}: {members}")
check("non_idempotent" not in body, "nginx never sends a POST that was sent once to another instance (no non_idempotent)")
check(re.search(r"proxy_set_header\s+Host\s+\$(http_host|host)\s*;", body) is not None,
      "nginx passes the client's Host on, so the services' DNS-rebinding check still sees it")

nginx_bin = shutil.which("nginx") or "/usr/sbin/nginx"
if not check(os.path.exists(nginx_bin), "nginx is installed (scripts/install-test-deps.sh)"):
    done()

# ---- 4. the services, here ----------------------------------------------------------------------
if not check("stopped" not in subprocess.run(["bash", CLUSTER, "status"], capture_output=True, text=True).stdout,
             "the local Kafka cluster runs (fixtures/kafka-cluster/cluster.sh start)"):
    done()
bootstrap = subprocess.run(["bash", CLUSTER, "bootstrap"], capture_output=True, text=True, check=True).stdout.strip().split(",")
node_addr = {internal[n]: bootstrap[int(node_id[n]) - 1] for n in kafka}
# Its SASL_SSL client settings, as KAFKA_ORDERS_KAFKA_<KEY> variables (see the compose file).
sasl = {}
for line in open(CLIENT_PROPERTIES):
    if "=" in line and not line.lstrip().startswith("#"):
        key, value = line.strip().split("=", 1)
        sasl["KAFKA_ORDERS_KAFKA_" + key.upper().replace(".", "_")] = value
# A new database, so that the run starts empty (both Orders APIs migrate it at once).
db = f"compose_cluster_{uuid.uuid4().hex[:12]}"
created = subprocess.run(["bash", POSTGRES, "psql", "-q", "-v", "ON_ERROR_STOP=1", "-c", f"CREATE DATABASE {db}"], capture_output=True, text=True)
if not check(created.returncode == 0, f"a new database on the local PostgreSQL (fixtures/postgres/postgres.sh start): {created.stderr[-500:]}"):
    done()
local_pg = urllib.parse.urlparse(subprocess.run(["bash", POSTGRES, "url"], capture_output=True, text=True, check=True).stdout.strip())

# Each process's own ports: (service, port in its container) -> port here.
ports = {(n, listen_port(n)): free_port() for n in ours}
ports.update({("lb", p): free_port() for p in lb_ports})
elsewhere = {f"{n}:{p}": f"127.0.0.1:{local}" for (n, p), local in ports.items()}
elsewhere.update({f"localhost:{p}": f"localhost:{ports[('lb', p)]}" for p in lb_ports})  # as published
elsewhere.update(node_addr)


def local(value, service):
    """A compose value with its addresses pointed at this machine."""
    value = str(value)
    if value.startswith("postgres://") and urllib.parse.urlparse(value).hostname == "postgres":
        # Server and credentials of the local one, the new database; the rest (options) kept.
        return urllib.parse.urlparse(value)._replace(netloc=local_pg.netloc, path=f"/{db}").geturl()
    own = lambda m: f"{'127.0.0.1' if m.group(1) == '0.0.0.0' else m.group(1)}:{ports[(service, int(m.group(2)))]}"
    value = re.sub(r"\b(0\.0\.0\.0|127\.0\.0\.1):(\d+)\b", lambda m: own(m) if (service, int(m.group(2))) in ports else m.group(0), value)
    return re.sub(r"(?<![\w.-])([a-z][\w.-]*:\d+)\b", lambda m: elsewhere.get(m.group(1), m.group(1)), value)


running = {}  # name -> (Popen, log path, stop signal)
stopped = set()


def log_tail(name, n=1500):
    try:
        return open(running[name][1], errors="replace").read()[-n:]
    except OSError:
        return ""


def start(name):
    log = os.path.join(WORK, f"{name}.log")
    if name == "lb":
        # The image's own command (`nginx -g 'daemon off;'`) on a copy of the file with the
        # upstream and listen addresses, the pid file and the temporary folders (the image's
        # belong to its nginx user) moved here.
        copy = re.sub(r"^\s*user\s+[^;]*;", "", conf, flags=re.M)  # as root here: workers run as nobody
        copy = re.sub(r"^(\s*server\s+)([\w.-]+:\d+)", lambda m: m.group(1) + local(m.group(2), name), copy, flags=re.M)
        copy = re.sub(r"listen\s+(\d+)\s*;", lambda m: f"listen 127.0.0.1:{ports[('lb', int(m.group(1)))]};", copy)
        temp = "".join(f"\n    {kind}_temp_path {WORK}/nginx-{kind};" for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
        copy = re.sub(r"^http\s*\{", lambda m: m.group(0) + temp, copy, count=1, flags=re.M)
        path = os.path.join(WORK, "nginx.conf")
        open(path, "w").write(copy)
        base = [nginx_bin, "-p", WORK, "-c", path, "-e", "stderr"]
        tested = subprocess.run(base + ["-t", "-g", f"pid {WORK}/nginx.pid;"], capture_output=True, text=True)
        check(tested.returncode == 0, f"nginx -t on deploy/nginx.conf (addresses rewritten): {tested.stderr[-1500:]}")
        # The access log goes to stdout: the file to read which instance served what.
        out = open(os.path.join(WORK, "access.log"), "w")
        process = subprocess.Popen(base + ["-g", f"daemon off; pid {WORK}/nginx.pid;"], stdout=out, stderr=open(log, "w"), cwd=WORK)
        running[name] = (process, log, signal.SIGQUIT)  # the image's STOPSIGNAL: finish requests, then exit
        return
    service = services[name]
    environment = {k: v for k, v in os.environ.items() if not k.startswith("KAFKA_ORDERS_")}
    environment.update({k: local(v, name) for k, v in env(name).items()})
    if "KAFKA_ORDERS_BROKERS" in environment:
        environment.update(sasl)
    environment["RUST_LOG"] = "info"
    command = [BIN] + [local(a, name) for a in service["command"]]
    # cwd: an empty folder, so that no kafka-orders.toml is read.
    output = open(log, "w")  # the logs go to stdout, a refused setting to stderr
    process = subprocess.Popen(command, env=environment, cwd=WORK, stdout=output, stderr=output)
    running[name] = (process, log, signal.SIGTERM)


def wait_healthy(name):
    """Runs the compose health check as written (addresses pointed here) until it passes."""
    hc = services[name]["healthcheck"]
    test = [local(a, name) for a in hc["test"]]
    argv = ["sh", "-c", test[1]] if test[0] == "CMD-SHELL" else [BIN if i == 1 and a == "kafka-orders" else a for i, a in enumerate(test)][1:]
    budget = seconds(hc.get("start_period")) + seconds(hc.get("interval"), 30) * hc.get("retries", 3)
    deadline = time.monotonic() + budget
    while time.monotonic() < deadline:
        if running[name][0].poll() is not None:
            return check(False, f"{name} exited {running[name][0].returncode} before it was healthy: {log_tail(name)}")
        try:
            if subprocess.run(argv, capture_output=True, timeout=seconds(hc.get("timeout"), 30)).returncode == 0:
                return check(True, f"{name} is healthy")
        except subprocess.TimeoutExpired:
            pass
        time.sleep(0.25)
    return check(False, f"{name}'s health check {hc['test']} did not pass in {budget:.0f} s: {log_tail(name)}")


def stop(name):
    """Sends the stop signal Docker would (or finds the process already ended); must exit 0."""
    stopped.add(name)
    process, _, sig = running[name]
    if process.poll() is None:
        process.send_signal(sig)
    try:
        code = process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
        code = "still running after 20 s"
    check(code == 0, f"{name} exited {code} on {signal.Signals(sig).name}: {log_tail(name, 800)}")


def access_log():
    """(method, path, status, [upstream addresses tried]) per request nginx has logged; the
    consumers' POST /orders to the Orders APIs are in it too."""
    lines = open(os.path.join(WORK, "access.log")).read().splitlines()
    found = [re.search(r'"(\w+) (\S+) [^"]*" (\d+) .*upstream=(.*?) upstream_status=', l) for l in lines]
    return [(m.group(1), m.group(2), int(m.group(3)), [a.strip() for a in m.group(4).split(",")]) for m in found if m]


# depends_on order, like `docker compose up`: a service starts once what it waits for is
# healthy. Kafka and PostgreSQL are the local ones, already up. Siblings start together.
pending = ours + ["lb"]
sequence = []
failed_before = len(failures)
try:
    while pending:
        ready = [n for n in pending if all(d not in pending for d in depends(n))]
        if not check(ready, f"depends_on has a cycle among {pending}"):
            break
        for name in ready:
            start(name)
        for name in ready:
            wait_healthy(name)
        sequence += ready
        pending = [n for n in pending if n not in ready]
    if len(failures) > failed_before:
        raise RuntimeError("the services did not all start")

    lb_producers = f"http://127.0.0.1:{ports[('lb', listen_port(roles['producer'][0]))]}"
    lb_orders = f"http://127.0.0.1:{ports[('lb', listen_port(roles['orders-api'][0]))]}"
    direct = {n: f"http://127.0.0.1:{ports[(n, listen_port(n))]}" for n in ours}
    producer_of = {f"127.0.0.1:{ports[(n, listen_port(n))]}": n for n in roles["producer"]}

    # Through the load balancer the services still refuse a name that is none of theirs (DNS
    # rebinding), and the Orders APIs answer to lb, the name the consumers use.
    for base in (lb_producers, lb_orders):
        status, _, _ = http("GET", base + "/readyz", headers={"Host": "rebinding.example"})
        check(status == 421, f"{base} through nginx answers a foreign Host with 421, not {status}")
    as_consumers = urllib.parse.urlparse(env(roles["consumer"][0])["KAFKA_ORDERS_ORDERS_API_URL"]).netloc
    status, _, _ = http("GET", lb_orders + "/orders/stats", headers={"Host": as_consumers})
    check(status == 200, f"the Orders APIs answer Host {as_consumers} through nginx: {status}")
    for name in roles.get("console", []):
        status, _, page = http("GET", direct[name] + "/orders")
        check(status == 200, f"{name}'s orders page, which asks the Orders APIs through nginx: {status} {str(page)[-300:]}")

    def post(order, key=None):
        status, head, body = http("POST", lb_producers + "/orders", order, {"Idempotency-Key": key} if key else {})
        check(status == 202 and isinstance(body, dict) and "id" in body, f"POST /orders through nginx answered {status}: {body}")
        return body.get("id") if isinstance(body, dict) else None, head

    def producer_posts(since, count):
        """The POSTs that reached a producer among the log's lines from `since` on, once there
        are `count` (nginx writes a line just after it has answered)."""
        posts = lambda: [r for r in access_log()[since:] if r[0] == "POST" and r[3][-1] in producer_of]
        return eventually(lambda: len(posts()) >= count and posts(), 5, 0.05) or posts()

    def arrived(ids, base=lb_orders):
        missing = [i for i in ids if i and http("GET", f"{base}/orders/{i}")[0] != 200]
        return not missing

    ids = []
    for _ in range(6):
        order_id, head = post(SEED)
        ids.append(order_id)
    location = urllib.parse.urljoin(local(env(roles["producer"][0])["KAFKA_ORDERS_ORDERS_API_URL"], "producer"), f"/orders/{ids[-1]}")
    check(head.get("Location") == location, f"Location names the order behind nginx, {location}: {head.get('Location')}")
    served = {producer_of[u[-1]] for m, p, s, u in producer_posts(0, len(ids))}
    check(served == set(roles["producer"]), f"both producers took orders through nginx: {served}")
    check(eventually(lambda: arrived(ids), 60), "every order reached the Orders APIs (producer → Kafka → consumer → nginx → Orders API)")

    def views():
        seen = {}
        for api in roles["orders-api"]:
            _, _, listed = http("GET", direct[api] + "/orders?limit=1000")
            _, _, stats = http("GET", direct[api] + "/orders/stats")
            seen[api] = (sorted(o["id"] for o in listed), stats)
        return seen

    # Other runs may have left orders in the topic, which the consumers may still be storing.
    agree = eventually(lambda: len({json.dumps(v) for v in views().values()}) == 1, 15, 0.5)
    seen = views()
    check(agree, f"both Orders APIs list the same orders and the same statistics: {seen}")
    check(all(set(ids) <= set(listed) for listed, _ in seen.values()), "both Orders APIs list every order")

    # An Idempotency-Key retry that lands on the other producer: the same answer, one order.
    key, user = f"compose-{uuid.uuid4()}", f"idempotency-{uuid.uuid4().hex[:8]}"
    keyed = {**SEED, "userId": user}
    before = len(access_log())
    first, _ = post(keyed, key)
    again, _ = post(keyed, key)
    check(first and first == again, f"the same Idempotency-Key gave the same order: {first} then {again}")
    took = [producer_of[u[-1]] for m, p, s, u in producer_posts(before, 2)]
    check(len(took) == 2 and took[0] != took[1], f"the two POSTs with one Idempotency-Key went to both producers: {took}")
    check(eventually(lambda: arrived([first]), 60), "the Idempotency-Key order reached the Orders APIs")
    time.sleep(2)  # a second publication would have had time to arrive
    for api in roles["orders-api"]:
        _, _, listed = http("GET", f"{direct[api]}/orders?userId={user}")
        check([o["id"] for o in listed] == [first], f"{api} stores that order once: {listed}")

    # One producer and one Orders API gone: nginx routes around them (a refused connection is
    # retried on the other instance, POST included: nothing was sent).
    gone = [roles["producer"][0], roles["orders-api"][0]]
    for name in gone:
        stop(name)
    statuses = [http("GET", lb_orders + "/orders/stats")[0] for _ in range(4)]
    check(statuses == [200] * 4, f"the Orders API through nginx with {gone[1]} stopped: {statuses}")
    before = len(access_log())
    later = [post(SEED)[0] for _ in range(4)]
    retried = [u for m, p, s, u in producer_posts(before, 4) if len(u) > 1]
    check(retried, "nginx moved a POST on to the other producer when one refused the connection")
    check(eventually(lambda: arrived(later), 60), f"orders still reach the Orders APIs with {gone} stopped")
    check(arrived(later, direct[roles["orders-api"][1]]), f"{roles['orders-api'][1]} has them")
    wait_healthy("lb")  # with one of each behind it stopped
except RuntimeError:
    pass
except Exception as err:  # a crash of the check is a failure, with the processes stopped
    check(False, f"the check failed: {type(err).__name__}: {err}")
finally:
    # Like `docker compose down`: dependents first.
    for name in reversed(sequence + [n for n in running if n not in sequence]):
        if name not in stopped:
            stop(name)
    subprocess.run(["bash", POSTGRES, "psql", "-q", "-c", f"DROP DATABASE IF EXISTS {db} WITH (FORCE)"], capture_output=True)

done()
