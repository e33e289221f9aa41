//! `ctlstore family create NAME` and `ctlstore family list`.

use clap::{Args, Subcommand};
use serde_json::json;

use crate::output::aligned;
use crate::{AdminError, Common};

#[derive(Debug, Args)]
pub struct FamilyArgs {
    #[command(flatten)]
    common: Common,
    #[command(subcommand)]
    verb: FamilyVerb,
}

#[derive(Debug, Subcommand)]
enum FamilyVerb {
    /// Create a family (lowercase letters, digits and `_`).
    Create {
        /// The family's name.
        name: String,
    },
    /// List the families and how many tables each has.
    List,
}

pub async fn run(args: FamilyArgs) -> Result<(), AdminError> {
    let client = args.common.client()?;
    let out = args.common.output();
    match args.verb {
        FamilyVerb::Create { name } => {
            client.create_family(&name).await?;
            out.result(&json!({"family": name, "created": true}), || {
                format!("created family {name}")
            });
        }
        FamilyVerb::List => {
            let families = client.families().await?;
            out.result(&json!({ "families": families }), || {
                let rows: Vec<Vec<String>> = families
                    .iter()
                    .map(|f| vec![f.name.clone(), f.tables.to_string()])
                    .collect();
                aligned(&["FAMILY", "TABLES"], &rows)
            });
        }
    }
    Ok(())
}
