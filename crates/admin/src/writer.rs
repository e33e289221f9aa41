//! `ctlstore writer add NAME`, `writer list`, `writer remove NAME`.
//!
//! A secret never comes from the command line (argv is visible to every user of the host in
//! `ps` and lands in shell history): it comes from the variable `--secret-env` names, from
//! standard input with `--secret-stdin`, or from a prompt without echo on a terminal.

use std::io::IsTerminal;

use clap::{Args, Subcommand};
use ctlstore_client::WriterCredentials;
use serde_json::json;

use crate::output::aligned;
use crate::{AdminError, Common};

#[derive(Debug, Args)]
pub struct WriterArgs {
    #[command(flatten)]
    common: Common,
    #[command(subcommand)]
    verb: WriterVerb,
}

#[derive(Debug, Subcommand)]
enum WriterVerb {
    /// Register a writer. Idempotent for the same secret; another secret is refused.
    Add {
        /// The writer's name.
        name: String,
        /// Read the secret from this environment variable.
        #[arg(long, value_name = "VAR", conflicts_with = "secret_stdin")]
        secret_env: Option<String>,
        /// Read the secret from the first line of standard input.
        #[arg(long)]
        secret_stdin: bool,
    },
    /// List the writers (names only; secrets are never shown).
    List,
    /// Remove a writer and its rate limit.
    Remove {
        /// The writer's name.
        name: String,
    },
}

pub async fn run(args: WriterArgs) -> Result<(), AdminError> {
    let client = args.common.client()?;
    let out = args.common.output();
    match args.verb {
        WriterVerb::Add {
            name,
            secret_env,
            secret_stdin,
        } => {
            let secret = match (secret_env, secret_stdin) {
                (Some(var), _) => secret_from_env(&var, "--secret-env")?,
                (None, true) => secret_from_stdin()?,
                (None, false) => secret_from_prompt(&name)?,
            };
            client
                .register_writer(&WriterCredentials::new(&name, secret))
                .await?;
            out.result(&json!({"writer": name, "added": true}), || {
                format!("added writer {name}")
            });
        }
        WriterVerb::List => {
            let writers = client.writers().await?;
            out.result(&json!({ "writers": writers }), || {
                let rows: Vec<Vec<String>> = writers.iter().map(|w| vec![w.name.clone()]).collect();
                aligned(&["WRITER"], &rows)
            });
        }
        WriterVerb::Remove { name } => {
            client.remove_writer(&name).await?;
            out.result(&json!({"writer": name, "removed": true}), || {
                format!("removed writer {name}")
            });
        }
    }
    Ok(())
}

/// A secret from the variable `var` (named by `flag`); unset or empty is a usage error.
pub(crate) fn secret_from_env(var: &str, flag: &str) -> Result<String, AdminError> {
    match std::env::var(var) {
        Ok(secret) if !secret.is_empty() => Ok(secret),
        Ok(_) => Err(AdminError::Usage(format!(
            "{flag} {var}: the variable is empty"
        ))),
        Err(_) => Err(AdminError::Usage(format!(
            "{flag} {var}: the variable is not set"
        ))),
    }
}

fn secret_from_stdin() -> Result<String, AdminError> {
    let mut line = String::new();
    std::io::stdin()
        .read_line(&mut line)
        .map_err(|e| AdminError::io("read the secret from standard input", e))?;
    let secret = line.trim_end_matches(['\r', '\n']).to_string();
    if secret.is_empty() {
        return Err(AdminError::Usage(
            "--secret-stdin: standard input holds no secret".into(),
        ));
    }
    Ok(secret)
}

/// Asks twice on the terminal, without echo.
fn secret_from_prompt(name: &str) -> Result<String, AdminError> {
    if !std::io::stdin().is_terminal() {
        return Err(AdminError::Usage(
            "no secret: pass --secret-env VAR or --secret-stdin (a prompt needs a terminal)".into(),
        ));
    }
    let read = |prompt: &str| {
        rpassword::prompt_password(prompt).map_err(|e| AdminError::io("read the secret", e))
    };
    let secret = read(&format!("secret for writer {name}: "))?;
    let again = read("again: ")?;
    if secret != again {
        return Err(AdminError::Usage("the two secrets differ".into()));
    }
    if secret.is_empty() {
        return Err(AdminError::Usage("the secret is empty".into()));
    }
    Ok(secret)
}
