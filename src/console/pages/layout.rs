//! The frame every page shares: head, navigation, an optional notice or error, the body.

use maud::{html, Markup, DOCTYPE};

pub fn page(title: &str, notice: Option<&str>, error: Option<&str>, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · kafka-orders console" }
                link rel="stylesheet" href="/assets/style.css";
                // In the head, not deferred: it sets the chosen theme before the page is drawn.
                script src="/assets/app.js" {}
            }
            body {
                header {
                    a.brand href="/" { "kafka-orders console" }
                    nav {
                        a href="/" { "Overview" }
                        a href="/topics" { "Topics" }
                        a href="/groups" { "Consumer groups" }
                        a href="/orders" { "Orders" }
                        a href="/dead-letters" { "Dead letters" }
                    }
                    // Hidden until the script shows it: without script it could do nothing.
                    label.theme hidden {
                        "Theme"
                        select #theme {
                            option value="system" { "System" }
                            option value="light" { "Light" }
                            option value="dark" { "Dark" }
                        }
                    }
                }
                main {
                    h1 { (title) }
                    @if let Some(notice) = notice {
                        p.notice role="status" { (notice) }
                    }
                    @if let Some(error) = error {
                        p.error role="alert" { (error) }
                    }
                    (body)
                }
            }
        }
    }
}
