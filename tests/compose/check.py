"""Keeps docker-compose.yml and the Dockerfile in step with the code, without Docker.

1. compose-go (main.go) parses and schema-validates docker-compose.yml;
2. the ports, images, dependencies and health checks are the ones the README promises;
3. the Dockerfile's build stage runs on exactly what its COPY lines copy (in an empty folder);
4. each kafka-orders service is started here with the exact command and environment variables
   of its compose entry (only the hostnames `kafka` and `orders-api` are pointed at this
   machine), its compose health check is run, and the seed's order goes through producer →
   real Kafka → consumer → Orders API.

usage: python3 tests/compose/check.py REAL_KAFKA_HOST:PORT
"""
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.path.join(ROOT, "target", "debug", "kafka-orders")
KAFKA = sys.argv[1]
DATA = tempfile.mkdtemp(prefix="compose-data-")
failures = []


def check(condition, message):
    if not condition:
        failures.append(message)
        print(f"FAIL {message}")


def local(value):
    """Points compose hostnames at this machine, and the data volume at a temporary folder."""
    if value == "/data":
        return DATA
    return value.replace("kafka:29092", KAFKA).replace("//orders-api:", "//127.0.0.1:")


project = json.loads(subprocess.run(["go", "run", ".", os.path.join(ROOT, "docker-compose.yml")], cwd=os.path.dirname(__file__),
                                    check=True, capture_output=True, text=True).stdout)
services = project["services"]
ports = {name: sorted(int(p["published"]) for p in s.get("ports", [])) for name, s in services.items()}
check(ports == {"kafka": [9092], "kafka-ui": [8080], "orders-api": [3003], "producer": [3001], "consumer": []}, f"ports {ports}")
# Published on the host's loopback only: nothing here is for the network without authentication.
exposed = [(name, p.get("host_ip")) for name, s in services.items() for p in s.get("ports", [])]
check(all(ip == "127.0.0.1" for _, ip in exposed), f"every published port is on 127.0.0.1: {exposed}")
check(services["kafka"]["image"].startswith("apache/kafka:"), "kafka uses the official apache/kafka image")
check(services["kafka-ui"]["environment"]["KAFKA_CLUSTERS_0_BOOTSTRAPSERVERS"] == "kafka:29092", "Kafka UI points at kafka:29092")
for name in ("orders-api", "producer", "consumer"):
    check(services[name]["image"] == "kafka-orders:latest", f"{name} runs the kafka-orders image")
check("build" in services["orders-api"], "orders-api builds the image")
check(services["consumer"]["depends_on"]["orders-api"]["condition"] == "service_healthy", "consumer waits for a healthy Orders API")
for name in ("producer", "consumer", "kafka-ui"):
    check(services[name]["depends_on"]["kafka"]["condition"] == "service_healthy", f"{name} waits for a healthy Kafka")
for name in ("orders-api", "producer", "consumer"):
    test = services[name].get("healthcheck", {}).get("test", [])
    check(test[-1:] and test[-1].endswith("/readyz"), f"{name} is health-checked on /readyz")
api = services["orders-api"]
# The name the consumer calls the Orders API by must be one the Orders API answers to.
api_host = urllib.parse.urlparse(services["consumer"]["environment"]["KAFKA_ORDERS_ORDERS_API_URL"]).hostname
allowed = (api.get("environment") or {}).get("KAFKA_ORDERS_ALLOWED_HOSTS", "").split(",")
check(api_host in [a.strip() for a in allowed], f"the Orders API answers to {api_host!r}, the name the consumer uses")
check(api["command"][-2:] == ["--data-dir", "/data"], "orders-api keeps its orders in /data")
check(any(v.get("target") == "/data" and v.get("type") == "volume" for v in api.get("volumes", [])), "/data is a named volume")

dockerfile = open(os.path.join(ROOT, "Dockerfile")).read()
check(re.search(r'^ENTRYPOINT \["kafka-orders"\]', dockerfile, re.M) is not None, "Dockerfile entrypoint is kafka-orders")
check(re.search(r"^EXPOSE 3001 3002 3003 9092$", dockerfile, re.M) is not None, "Dockerfile exposes 3001 3002 3003 9092")
check("chown kafka-orders /data" in dockerfile and "VOLUME /data" in dockerfile, "Dockerfile gives the non-root user a /data volume")
check("USER kafka-orders" in dockerfile, "Dockerfile runs as a non-root user")
# The image's build stage, the way `docker build` runs it: exactly what its COPY lines copy,
# into an empty folder, then its cargo command there (`check` for `build --release`: the same
# manifests, lock file and sources are needed, without the cost of a release build).
workdir = re.search(r"^WORKDIR (\S+)$", dockerfile, re.M).group(1)
run = re.search(r"^RUN (cargo build .*)$", dockerfile, re.M)
check(run is not None and "--locked" in run.group(1) and "--bin kafka-orders" in run.group(1),
      "the image builds the kafka-orders binary with --locked")
context = tempfile.mkdtemp(prefix="image-context-")
for line in re.findall(r"^COPY (?!--from)(.+)$", dockerfile, re.M):
    *sources, dest = line.split()
    target = os.path.join(context, os.path.relpath(os.path.normpath(os.path.join(workdir, dest)), workdir))
    for item in sources:
        origin = os.path.join(ROOT, item)
        check(os.path.exists(origin), f"Dockerfile copies {item}, which exists")
        if os.path.isdir(origin):
            shutil.copytree(origin, target, dirs_exist_ok=True)
        else:
            os.makedirs(target, exist_ok=True)
            shutil.copy(origin, target)
if run is not None:
    command = run.group(1).replace("cargo build --release", "cargo check").split()
    # Dependencies compiled for the tests are reused; the image's own crates build from the copy.
    built = subprocess.run(command, cwd=context, env={**os.environ, "CARGO_TARGET_DIR": os.path.join(ROOT, "target")},
                           capture_output=True, text=True)
    check(built.returncode == 0, f"the image's `{' '.join(command)}` fails on exactly what the Dockerfile copies:\n{built.stderr[-2000:]}")
shutil.rmtree(context)

running = {}
try:
    for name in ("orders-api", "producer", "consumer"):
        service = services[name]
        env = {k: v for k, v in os.environ.items() if not k.startswith("KAFKA_ORDERS_")}
        env.update({k: local(v) for k, v in (service.get("environment") or {}).items()})
        env["RUST_LOG"] = "warn"
        command = [BIN] + [local(a) for a in service["command"]]
        running[name] = subprocess.Popen(command, env=env, cwd="/tmp", stderr=subprocess.PIPE, text=True)
        test = service.get("healthcheck", {}).get("test")
        if test:
            probe = [BIN if a == "kafka-orders" else a for a in test[1:]]
            for _ in range(100):
                if subprocess.run(probe, capture_output=True).returncode == 0:
                    break
                time.sleep(0.1)
            else:
                check(False, f"{name} health check {test} never passed")
    order = {"userId": "user123", "products": [{"id": "prod-1", "name": "Product 1", "price": 19.99, "quantity": 2}], "totalAmount": 39.98}
    request = urllib.request.Request("http://127.0.0.1:3001/orders", json.dumps(order).encode(), {"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        check(response.status == 202, f"POST /orders answered {response.status}")
        order_id = json.load(response)["id"]
    for _ in range(200):
        with urllib.request.urlopen("http://127.0.0.1:3003/orders", timeout=5) as response:
            if any(o["id"] == order_id for o in json.load(response)):
                break
        time.sleep(0.1)
    else:
        check(False, "the order never reached the Orders API through the compose services")
finally:
    for name, process in running.items():
        process.send_signal(signal.SIGTERM)
    for name, process in running.items():
        try:
            code = process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            code = "timeout"
        check(code == 0, f"{name} exited {code} on SIGTERM: {process.stderr.read()[-500:]}")

print(f"compose-check: {0 if failures else 1} passed, {1 if failures else 0} failed")
sys.exit(1 if failures else 0)
