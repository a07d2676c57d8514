//! The pinentry (Assuan) client against a scripted pinentry: answers, percent-encoded
//! characters, cancel, and programs that are missing or broken.
#![cfg(unix)]

mod support;

use std::path::Path;

use signin_assistant::prompt::{pinentry, PromptError, Request};
use support::pinentry::FakePinentry;

async fn ask(fake: &FakePinentry) -> Result<Option<String>, PromptError> {
    let request = Request::for_account("alice@example.com");
    pinentry::ask(&fake.program(), &request)
        .await
        .map(|pin| pin.map(|secret| secret.expose().to_string()))
}

#[tokio::test]
async fn returns_the_pin_and_sends_the_dialog_words_escaped() {
    let fake = FakePinentry::new(Some("correct-horse"));
    assert_eq!(ask(&fake).await.unwrap().as_deref(), Some("correct-horse"));
    let log = fake.log();
    assert!(log.contains("SETTITLE Sign-in Assistant\n"), "{log}");
    assert!(
        log.contains(
            "SETDESC Enter the password of alice@example.com.%0AIt is kept in your keyring"
        ),
        "{log}"
    );
    assert!(log.contains("SETPROMPT Password:\n"), "{log}");
    assert!(log.contains("GETPIN\nBYE\n"), "{log}");
}

#[tokio::test]
async fn decodes_percent_encoded_characters() {
    let fake = FakePinentry::new(Some("p%25ss w%0Ad%2B%C3%A9t%C3%A9"));
    assert_eq!(ask(&fake).await.unwrap().as_deref(), Some("p%ss w\nd+été"));
}

#[tokio::test]
async fn cancel_is_none_not_an_error() {
    let fake = FakePinentry::new(Some("cancel"));
    assert_eq!(ask(&fake).await.unwrap(), None);
}

#[tokio::test]
async fn no_data_line_is_an_empty_pin() {
    let fake = FakePinentry::new(None);
    assert_eq!(ask(&fake).await.unwrap().as_deref(), Some(""));
}

#[tokio::test]
async fn a_missing_program_says_which() {
    let err = pinentry::ask(
        Path::new("/nonexistent/pinentry-x"),
        &Request::for_account("a"),
    )
    .await
    .unwrap_err();
    assert!(matches!(err, PromptError::Spawn { .. }), "{err:?}");
    assert!(err.to_string().contains("/nonexistent/pinentry-x"));
}

#[tokio::test]
async fn a_program_that_is_not_a_pinentry_fails_plainly() {
    let err = pinentry::ask(Path::new("/bin/true"), &Request::for_account("a"))
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "the password dialog failed: pinentry: it ended without an answer"
    );
}

#[test]
fn the_configured_program_wins_and_must_exist() {
    let fake = FakePinentry::new(None);
    let program = fake.program();
    assert_eq!(
        pinentry::choose_program(Some(program.to_str().unwrap())).unwrap(),
        program
    );
    let err = pinentry::choose_program(Some("pinentry-does-not-exist")).unwrap_err();
    assert!(err.to_string().contains("pinentry-does-not-exist"), "{err}");
}
