//! With `api_tokens` set: the producer's POST, the Orders API's changes and the console need a
//! token, reads and probes stay open, and the consumer sends its token to the Orders API.

use base64::Engine;
use kafka_orders::app::Services;
use kafka_orders::auth::Tokens;
use reqwest::header::{AUTHORIZATION, WWW_AUTHENTICATE};
use reqwest::StatusCode;

use crate::common::{eventually, orders, seed_order, settings, TestApp, TestBroker};

const TOKEN: &str = "s3cret-token-for-the-tests";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_tokens_changes_need_one_and_the_consumer_sends_it() {
    let broker = TestBroker::start().await;
    let mut s = settings(&broker.bootstrap(), "auth");
    s.tokens = Tokens::new(vec!["another-token-0123456789".into(), TOKEN.into()]);
    let app = TestApp::start(s, Services::All).await;
    let client = reqwest::Client::new();
    let post = |token: Option<&str>| {
        let mut request = client
            .post(format!("{}/orders", app.producer))
            .json(&seed_order());
        if let Some(token) = token {
            request = request.header(AUTHORIZATION, format!("Bearer {token}"));
        }
        request.send()
    };
    for refused in [None, Some("wrong-token-0123456789")] {
        let response = post(refused).await.expect("POST");
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        assert!(response.headers()[WWW_AUTHENTICATE]
            .to_str()
            .expect("ascii")
            .starts_with("Bearer"));
    }
    let accepted = post(Some(TOKEN)).await.expect("POST");
    assert_eq!(accepted.status(), StatusCode::ACCEPTED);
    let id = accepted.json::<serde_json::Value>().await.expect("json")["id"]
        .as_str()
        .expect("id")
        .to_string();
    // The consumer got it into the Orders API, so it sent its token.
    eventually(30, || async {
        orders(&app.api)
            .await
            .iter()
            .any(|o| o["id"] == id.as_str())
            .then_some(())
    })
    .await;
    let change = client
        .patch(format!("{}/orders/{id}", app.api))
        .json(&serde_json::json!({"status": "confirmed"}));
    assert_eq!(
        change.send().await.expect("PATCH").status(),
        StatusCode::UNAUTHORIZED
    );
    let delete = client.delete(format!("{}/orders/{id}", app.api));
    assert_eq!(
        delete.send().await.expect("DELETE").status(),
        StatusCode::UNAUTHORIZED
    );
    let authorized = client
        .patch(format!("{}/orders/{id}", app.api))
        .bearer_auth(TOKEN)
        .json(&serde_json::json!({"status": "confirmed"}));
    assert_eq!(
        authorized.send().await.expect("PATCH").status(),
        StatusCode::OK
    );

    // The console asks for a token as the password of HTTP Basic; its probe stays open.
    let page = client
        .get(format!("{}/", app.console))
        .send()
        .await
        .expect("GET");
    assert_eq!(page.status(), StatusCode::UNAUTHORIZED);
    assert!(page.headers()[WWW_AUTHENTICATE]
        .to_str()
        .expect("ascii")
        .starts_with("Basic"));
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("me:{TOKEN}"));
    let page = client
        .get(format!("{}/", app.console))
        .header(AUTHORIZATION, format!("Basic {basic}"))
        .send()
        .await
        .expect("GET");
    assert_eq!(page.status(), StatusCode::OK);
    let probe = client
        .get(format!("{}/healthz", app.console))
        .send()
        .await
        .expect("GET");
    assert_eq!(probe.status(), StatusCode::OK);
    app.stop().await;
    broker.stop().await;
}
