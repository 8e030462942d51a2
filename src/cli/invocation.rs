//! How davgate was called, so the commands a hint prints ("revoke it with davgate
//! app-password revoke …") name the same configuration file, data directory and
//! database, and work when pasted.

use std::borrow::Cow;
use std::path::Path;

/// `davgate` with the global options it was run with.
#[derive(Debug, Clone)]
pub struct Invocation {
    prefix: String,
}

impl Invocation {
    /// From the global options, whether they came from flags or `DAVGATE_*` variables.
    pub fn new(config: Option<&Path>, data_dir: Option<&Path>, database_url: Option<&str>) -> Self {
        let mut prefix = String::from("davgate");
        if let Some(config) = config {
            prefix.push_str(" --config ");
            prefix.push_str(&shell_word(&config.to_string_lossy()));
        }
        if let Some(dir) = data_dir {
            prefix.push_str(" --data-dir ");
            prefix.push_str(&shell_word(&dir.to_string_lossy()));
        }
        match database_url {
            None => {}
            // A hint is no place for the database password: name the variable instead.
            Some(url) if has_password(url) => {
                prefix.push_str(" --database-url \"$DAVGATE_DATABASE_URL\"")
            }
            Some(url) => {
                prefix.push_str(" --database-url ");
                prefix.push_str(&shell_word(url));
            }
        }
        Invocation { prefix }
    }

    /// The command line that runs `args` the way this command was run; `args` is
    /// written as the shell reads it (NAME-style placeholders stay as they are).
    pub fn command(&self, args: &str) -> String {
        format!("{} {args}", self.prefix)
    }

    /// A user or other name quoted for the shell where it needs to be.
    pub fn word(text: &str) -> Cow<'_, str> {
        shell_word(text)
    }
}

/// `postgres://user:secret@host/db` carries one; `sqlite://…` and `postgres://user@host` do not.
fn has_password(url: &str) -> bool {
    let Some((_, rest)) = url.split_once("://") else {
        return false;
    };
    let authority = rest.split(['/', '?']).next().unwrap_or("");
    authority
        .rsplit_once('@')
        .is_some_and(|(userinfo, _)| userinfo.contains(':'))
}

/// `text` as one POSIX shell word: unchanged when it is plain, single-quoted otherwise.
fn shell_word(text: &str) -> Cow<'_, str> {
    let plain = !text.is_empty()
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_-./:=@%+,".contains(c));
    if plain {
        return Cow::Borrowed(text);
    }
    Cow::Owned(format!("'{}'", text.replace('\'', "'\\''")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hints_repeat_the_options_quoted_for_the_shell() {
        let plain = Invocation::new(None, None, None);
        assert_eq!(plain.command("user list"), "davgate user list");
        let full = Invocation::new(
            Some(Path::new("/etc/davgate/davgate.toml")),
            Some(Path::new("/srv/my data/it's")),
            Some("sqlite:///srv/x.db?mode=rwc"),
        );
        assert_eq!(
            full.command("user list"),
            "davgate --config /etc/davgate/davgate.toml --data-dir '/srv/my data/it'\\''s' \
             --database-url 'sqlite:///srv/x.db?mode=rwc' user list"
        );
    }

    #[test]
    fn a_database_password_is_never_repeated() {
        let pg = Invocation::new(None, None, Some("postgres://dg:hunter2@db/dg"));
        assert!(!pg.command("x").contains("hunter2"));
        assert!(pg.command("x").contains("$DAVGATE_DATABASE_URL"));
        assert!(!has_password("postgres://dg@db/dg"));
        assert!(!has_password("postgres://db/dg?user=a:b@c"));
    }
}
