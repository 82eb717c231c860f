//! What a hostile web page could do through the user's browser: reach the services under a
//! name of its own (DNS rebinding), or make the console change things (a cross-site form).

use kafka_orders::app::Services;
use reqwest::header::{CONTENT_TYPE, HOST, ORIGIN};
use reqwest::StatusCode;

use crate::common::{settings, TestApp};

const FORM: &str = "application/x-www-form-urlencoded";

async fn app(read_only: bool) -> TestApp {
    let mut s = settings("unused:9092", "cross-site");
    s.broker.embedded = true;
    s.console.read_only = read_only;
    TestApp::start(s, Services::All).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_foreign_host_name_is_refused_by_every_service() {
    let app = app(false).await;
    let client = reqwest::Client::new();
    for base in [&app.producer, &app.api, &app.consumer, &app.console] {
        let url = format!("{base}/healthz");
        let foreign = client
            .get(&url)
            .header(HOST, "rebind.evil.example")
            .send()
            .await
            .expect("GET");
        assert_eq!(foreign.status(), StatusCode::MISDIRECTED_REQUEST, "{base}");
        assert_eq!(foreign.headers()[CONTENT_TYPE], "application/problem+json");
        let own = client
            .get(&url)
            .header(HOST, "localhost")
            .send()
            .await
            .expect("GET");
        assert_eq!(own.status(), StatusCode::OK, "{base}");
    }
    // The order data itself is out of reach too.
    let orders = client
        .get(format!("{}/orders", app.api))
        .header(HOST, "rebind.evil.example:3003")
        .send()
        .await
        .expect("GET");
    assert_eq!(orders.status(), StatusCode::MISDIRECTED_REQUEST);
    app.stop().await;
}

/// The CSRF token of the console's forms.
async fn token(console: &str) -> String {
    let page = reqwest::get(format!("{console}/topics"))
        .await
        .expect("GET /topics")
        .text()
        .await
        .expect("page");
    let at = page
        .find(r#"name="csrf" value=""#)
        .expect("a token in the form")
        + 19;
    page[at..].split('"').next().expect("token").to_string()
}

/// Whether the console's list of topics has `name`.
async fn topic_exists(console: &str, name: &str) -> bool {
    let page = reqwest::get(format!("{console}/topics"))
        .await
        .expect("GET /topics")
        .text()
        .await
        .expect("page");
    page.contains(&format!(r#"data-topic="{name}""#))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_takes_changes_only_from_its_own_pages() {
    let app = app(false).await;
    let console = &app.console;
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let page = reqwest::get(format!("{console}/")).await.expect("GET /");
    let csp = page.headers()["content-security-policy"]
        .to_str()
        .expect("ascii");
    assert!(
        csp.contains("script-src 'self'") && csp.contains("frame-ancestors 'none'"),
        "{csp}"
    );
    assert_eq!(page.headers()["x-content-type-options"], "nosniff");

    let token = token(console).await;
    let create = |body: String| {
        client
            .post(format!("{console}/topics"))
            .header(CONTENT_TYPE, FORM)
            .body(body)
    };
    // A page elsewhere: no token, a foreign origin, or the browser saying it is cross-site.
    let refused = [
        create("name=no-token&partitions=1".into()),
        create(format!("name=foreign&partitions=1&csrf={token}"))
            .header(ORIGIN, "http://evil.example"),
        create(format!("name=sibling&partitions=1&csrf={token}"))
            .header("sec-fetch-site", "same-site"),
        create("name=bad-token&partitions=1&csrf=guessed".into()),
    ];
    for request in refused {
        let response = request.send().await.expect("POST");
        assert_eq!(response.status(), StatusCode::FORBIDDEN);
        let page = response.text().await.expect("page");
        assert!(page.contains("This request was refused"), "{page}");
    }
    for name in ["no-token", "foreign", "sibling", "bad-token"] {
        assert!(!topic_exists(console, name).await, "{name} was created");
    }
    // The console's own form: same origin, with the token.
    let own = create(format!("name=own-form&partitions=1&csrf={token}"))
        .header(ORIGIN, console.as_str())
        .header("sec-fetch-site", "same-origin")
        .send()
        .await
        .expect("POST");
    assert_eq!(own.status(), StatusCode::SEE_OTHER);
    assert!(topic_exists(console, "own-form").await);
    // A cross-site delete leaves the topic where it is.
    let delete = client
        .post(format!("{console}/topics/own-form/delete"))
        .header(CONTENT_TYPE, FORM)
        .header(ORIGIN, "http://evil.example")
        .body(format!("csrf={token}"))
        .send()
        .await
        .expect("POST");
    assert_eq!(delete.status(), StatusCode::FORBIDDEN);
    assert!(topic_exists(console, "own-form").await);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_only_console_shows_no_forms_and_refuses_changes() {
    let app = app(true).await;
    let page = reqwest::get(format!("{}/topics", app.console))
        .await
        .expect("GET")
        .text()
        .await
        .expect("page");
    assert!(!page.contains("<form method=\"post\""), "{page}");
    let response = reqwest::Client::new()
        .post(format!("{}/topics", app.console))
        .header(CONTENT_TYPE, FORM)
        .body("name=x&partitions=1")
        .send()
        .await
        .expect("POST");
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert!(response.text().await.expect("page").contains("read-only"));
    app.stop().await;
}
