//! The OpenAPI 3.1 description served at `/openapi.json` (and shown by the
//! Swagger UI at `/docs`). It is not written here: each handler carries its
//! operation (`#[utoipa::path]`: method, path, summary, parameters, body and
//! response types), and the router collects them as it routes them
//! (`utoipa_axum::routes!` in `lib.rs` and `api/mod.rs`), so a route cannot
//! be served undocumented or documented unserved. This module adds what
//! every operation shares: the two ways to authenticate and the error body.

use utoipa::openapi::path::Operation;
use utoipa::openapi::response::ResponseBuilder;
use utoipa::openapi::security::{
    ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme,
};
use utoipa::openapi::{Content, OpenApi, Ref};
use utoipa::{Modify, OpenApi as _};

use crate::error::ErrorBody;

#[derive(utoipa::OpenApi)]
#[openapi(
    info(
        title = "pai",
        description = "A personal AI that knows its user. /v1 is OpenAI-compatible; /api is pai's own. \
                       Every error is OpenAI's `{\"error\": {\"message\", \"type\", \"param\", \"code\"}}`."
    ),
    paths(crate::mcp::operation),
    components(schemas(ErrorBody)),
    modifiers(&Shared)
)]
struct Base;

/// The description the router starts from; the routes add their operations.
pub fn base() -> OpenApi {
    Base::openapi()
}

struct Shared;

impl Modify for Shared {
    fn modify(&self, api: &mut OpenApi) {
        let components = api.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("An API key from `pai key create` or POST /api/keys"))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "session",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
                crate::auth::SESSION_COOKIE,
                "From POST /api/session; changes also need the X-CSRF-Token header",
            ))),
        );
        api.security = Some(vec![
            SecurityRequirement::new("bearer", Vec::<String>::new()),
            SecurityRequirement::new("session", Vec::<String>::new()),
        ]);
    }
}

/// Adds the error responses every operation can give to each one; called on
/// the finished description (the operations arrive after `base`).
pub fn add_error_responses(api: &mut OpenApi) {
    let error = ResponseBuilder::new()
        .description("OpenAI-shaped error; `param` names the input at fault")
        .content("application/json", Content::new(Some(Ref::from_schema_name("ErrorBody"))))
        .build();
    for item in api.paths.paths.values_mut() {
        for operation in operations(item) {
            for status in ["4XX", "5XX"] {
                operation.responses.responses.entry(status.to_string()).or_insert_with(|| error.clone().into());
            }
        }
    }
}

fn operations(item: &mut utoipa::openapi::PathItem) -> impl Iterator<Item = &mut Operation> {
    [&mut item.get, &mut item.put, &mut item.post, &mut item.delete, &mut item.patch, &mut item.head]
        .into_iter()
        .filter_map(|o| o.as_mut())
}
