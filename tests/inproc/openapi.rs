//! The published contract: a snapshot of the whole `/openapi.json`, so any change to a
//! path, field, status, example or rule shows up in review (STYLE 13).

use crate::harness::TestApp;

#[tokio::test]
async fn openapi_json_matches_the_snapshot() {
    let app = TestApp::new().await;
    let resp = app.get("/openapi.json").await;
    resp.expect_status(200);
    insta::assert_json_snapshot!("openapi", resp.body);
}
