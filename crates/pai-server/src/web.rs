//! The web app: static files embedded in the binary at build time (no npm,
//! no build step: plain ES modules), served at `/`. A strict Content
//! Security Policy allows only this origin's scripts and styles, so text from
//! answers or documents can never run as code in the page.

use axum::Router;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

const FILES: &[(&str, &str, &str)] = &[
    ("/", "text/html; charset=utf-8", include_str!("../web/index.html")),
    ("/app.js", "text/javascript; charset=utf-8", include_str!("../web/app.js")),
    ("/style.css", "text/css; charset=utf-8", include_str!("../web/style.css")),
    ("/i18n/en.json", "application/json", include_str!("../web/i18n/en.json")),
    ("/i18n/ko.json", "application/json", include_str!("../web/i18n/ko.json")),
];

const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                   connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

fn file(content_type: &'static str, body: &'static str) -> Response {
    let mut r = body.into_response();
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    h.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert("referrer-policy", HeaderValue::from_static("same-origin"));
    r
}

pub fn routes<S: Clone + Send + Sync + 'static>() -> Router<S> {
    FILES.iter().fold(Router::new(), |router, (path, content_type, body)| {
        router.route(path, get(move || async move { file(content_type, body) }))
    })
}

#[cfg(test)]
mod tests {
    /// Every key the page uses exists in both languages, and the two agree.
    #[test]
    fn locales_cover_every_string_of_the_page() {
        let en: serde_json::Map<String, serde_json::Value> =
            serde_json::from_str(include_str!("../web/i18n/en.json")).unwrap();
        let ko: serde_json::Map<String, serde_json::Value> =
            serde_json::from_str(include_str!("../web/i18n/ko.json")).unwrap();
        let mut en_keys: Vec<&String> = en.keys().collect();
        let mut ko_keys: Vec<&String> = ko.keys().collect();
        en_keys.sort();
        ko_keys.sort();
        assert_eq!(en_keys, ko_keys);
        let page = format!("{}{}", include_str!("../web/index.html"), include_str!("../web/app.js"));
        let used = regex_lite_keys(&page);
        for key in &used {
            assert!(en.contains_key(key), "{key} is used but not in the locale files");
        }
        assert!(used.len() > 40, "{} keys found", used.len());
    }

    /// `data-i18n="x"`, `data-i18n-placeholder="x"` and `t("x")`.
    fn regex_lite_keys(text: &str) -> Vec<String> {
        let mut keys = Vec::new();
        for marker in ["data-i18n=\"", "data-i18n-placeholder=\"", "t(\""] {
            for (i, _) in text.match_indices(marker) {
                // `t("` alone, not the end of `get("`.
                let before = text[..i].chars().next_back();
                if marker == "t(\"" && before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '.') {
                    continue;
                }
                let rest = &text[i + marker.len()..];
                if let Some(end) = rest.find('"') {
                    keys.push(rest[..end].to_string());
                }
            }
        }
        keys.sort();
        keys.dedup();
        keys
    }
}
