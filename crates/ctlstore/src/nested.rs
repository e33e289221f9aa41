//! Flag groups under a prefix, and flags accepted only to be ignored.
//!
//! ctlstore nests one service's flags inside another's: the supervisor runs a reflector and
//! takes every reflector flag as `-reflector.<flag>` (`CTLSTORE_REFLECTOR_<FLAG>`), and the
//! reflector's `-ledger-latency.*` group reappears in the supervisor as
//! `-ledger-latency-health.*`. `Nested<T, P>` produces those forms from `T`'s one definition:
//! it adds `T`'s arguments with the prefix on their id and long name (the plain long name stays
//! as a hidden alias), and builds `T` by handing the given values back to `T`'s own parser.
//!
//! `Ignored<S>` accepts a list of ctlstore flags that mean nothing here, and remembers which
//! were given so they can be logged once.

use std::ffi::OsString;
use std::marker::PhantomData;

use clap::parser::ValueSource;
use clap::{Arg, ArgMatches, Args, Command, FromArgMatches};

/// The prefix of a nested group, with its trailing dot (`reflector.`).
pub trait Prefix {
    const PREFIX: &'static str;
    /// Whether the plain long names stay accepted as hidden aliases (where the enclosing
    /// command does not use them itself).
    const ALIASES: bool;
}

/// `T`'s flags under `P::PREFIX` (see the module docs).
#[derive(Debug)]
pub struct Nested<T, P> {
    pub inner: T,
    prefix: PhantomData<P>,
}

fn inner_command<T: Args>() -> Command {
    T::augment_args(Command::new("nested").no_binary_name(true))
}

/// `arg` under `prefix`; `alias` keeps its plain long name too.
fn nest(prefix: &str, arg: &Arg, alias: bool) -> Arg {
    let id = format!("{prefix}{}", arg.get_id());
    // The display order is reset so the enclosing command numbers these after its own.
    let mut nested = arg.clone().id(id).env(None::<&str>).display_order(None);
    if let Some(long) = arg.get_long() {
        nested = nested.long(format!("{prefix}{long}"));
        if alias {
            nested = nested.alias(long.to_string());
        }
    }
    nested
}

impl<T: Args, P: Prefix> Args for Nested<T, P> {
    fn augment_args(cmd: Command) -> Command {
        let taken: Vec<String> = cmd
            .get_arguments()
            .flat_map(|a| {
                a.get_long()
                    .into_iter()
                    .chain(a.get_all_aliases().into_iter().flatten())
            })
            .map(str::to_string)
            .collect();
        let inner = inner_command::<T>();
        let nested: Vec<Arg> = inner
            .get_arguments()
            .map(|a| {
                let free = a.get_long().is_some_and(|l| !taken.iter().any(|t| t == l));
                nest(P::PREFIX, a, P::ALIASES && free)
            })
            .collect();
        cmd.args(nested)
    }

    fn augment_args_for_update(cmd: Command) -> Command {
        Self::augment_args(cmd)
    }
}

impl<T: Args + FromArgMatches, P: Prefix> FromArgMatches for Nested<T, P> {
    /// Re-parses the values given under the prefix with `T`'s own definition, so `T`'s
    /// parsers, defaults and checks apply unchanged.
    fn from_arg_matches(matches: &ArgMatches) -> Result<Self, clap::Error> {
        let inner = inner_command::<T>();
        let mut argv: Vec<OsString> = Vec::new();
        for arg in inner.get_arguments() {
            let id = format!("{}{}", P::PREFIX, arg.get_id());
            let given = matches!(
                matches.value_source(&id),
                Some(ValueSource::CommandLine | ValueSource::EnvVariable)
            );
            let (Some(long), true) = (arg.get_long(), given) else {
                continue;
            };
            for value in matches.get_raw(&id).into_iter().flatten() {
                let mut flag = OsString::from(format!("--{long}="));
                flag.push(value);
                argv.push(flag);
            }
        }
        let inner_matches = inner.try_get_matches_from(argv)?;
        Ok(Nested {
            inner: T::from_arg_matches(&inner_matches)?,
            prefix: PhantomData,
        })
    }

    fn update_from_arg_matches(&mut self, matches: &ArgMatches) -> Result<(), clap::Error> {
        *self = Self::from_arg_matches(matches)?;
        Ok(())
    }
}

/// A list of ctlstore flags accepted and ignored, and why.
pub trait IgnoredSet {
    const NAMES: &'static [&'static str];
    const WHY: &'static str;
}

/// The flags of `S` that were given (see the module docs).
#[derive(Debug)]
pub struct Ignored<S> {
    pub given: Vec<String>,
    set: PhantomData<S>,
}

impl<S> Default for Ignored<S> {
    fn default() -> Self {
        Ignored {
            given: Vec::new(),
            set: PhantomData,
        }
    }
}

impl<S: IgnoredSet> Ignored<S> {
    /// Logs the given ones once, saying why they do nothing.
    pub fn log(&self) {
        if !self.given.is_empty() {
            tracing::info!(flags = ?self.given, "ctlstore flags accepted and ignored: {}", S::WHY);
        }
    }
}

impl<S: IgnoredSet> Args for Ignored<S> {
    fn augment_args(cmd: Command) -> Command {
        cmd.args(S::NAMES.iter().map(|name| {
            Arg::new(*name)
                .long(*name)
                .hide(true)
                .num_args(0..=1)
                .default_missing_value("true")
        }))
    }

    fn augment_args_for_update(cmd: Command) -> Command {
        Self::augment_args(cmd)
    }
}

impl<S: IgnoredSet> FromArgMatches for Ignored<S> {
    fn from_arg_matches(matches: &ArgMatches) -> Result<Self, clap::Error> {
        let given = S::NAMES
            .iter()
            .filter(|name| {
                matches!(
                    matches.value_source(name),
                    Some(ValueSource::CommandLine | ValueSource::EnvVariable)
                )
            })
            .map(|name| name.to_string())
            .collect();
        Ok(Ignored {
            given,
            set: PhantomData,
        })
    }

    fn update_from_arg_matches(&mut self, matches: &ArgMatches) -> Result<(), clap::Error> {
        *self = Self::from_arg_matches(matches)?;
        Ok(())
    }
}
