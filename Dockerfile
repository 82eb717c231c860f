# One image for every service: `docker run IMAGE producer|consumer|orders-api|broker ...`.
# Build stage: release build of the kafka-orders binary (librdkafka is compiled in).
FROM rust:1-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY broker ./broker
COPY bench ./bench
COPY vendor ./vendor
COPY src ./src
RUN cargo build --release --locked --bin kafka-orders

# Runtime stage: slim Debian, non-root user, just the binary.
FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --no-create-home kafka-orders \
    && mkdir /data && chown kafka-orders /data
COPY --from=build /src/target/release/kafka-orders /usr/local/bin/kafka-orders
USER kafka-orders
# 3001 producer, 3002 consumer health/metrics, 3003 Orders API, 9092 the built-in broker.
VOLUME /data
EXPOSE 3001 3002 3003 9092
ENTRYPOINT ["kafka-orders"]
CMD ["--help"]
