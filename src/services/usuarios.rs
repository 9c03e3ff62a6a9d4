//! Users, sessions and sign-in (SPEC-2 §10): argon2id passwords hashed on low-priority
//! threads of their own, random tokens stored only as their SHA-256, the login limits, the first
//! administrator and the demo users.

use std::sync::Arc;

use argon2::password_hash::{PasswordHasher as _, PasswordVerifier as _};
use sha2::Digest as _;

pub use super::tentativas::Tentativas;
use super::{App, Chamador, Contexto, Janela, Recorte, new_id};
use crate::domain::{Email, Nome};
use crate::error::{AppError, Erros};
use crate::models::{Acao, Papel, Sessao, Usuario};
use crate::repositories::{Db, Op};

/// Shortest accepted password.
pub const SENHA_MIN: usize = 8;

/// An argon2id hash (default parameters, as [`hash_senha`] makes) of a password nobody
/// knows: a login with an unknown e-mail verifies against it, so it costs the same as a
/// wrong password (`dummy_hash_has_the_parameters_of_real_hashes` pins the parameters).
const DUMMY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0c2FsdA$ZrQ2WHpzGuR9Q7tb5ZsRnDxZ70MZoR5Ld1Ne/dRmCR0";

pub(crate) fn muitas_tentativas(secs: u64) -> AppError {
    AppError::Busy {
        status: 429,
        code: "muitas_tentativas",
        detail: "Tentativas de login demais; aguarde e tente novamente.".into(),
        retry_after_secs: secs,
    }
}

fn credenciais_invalidas() -> AppError {
    AppError::Unauthorized {
        code: "credenciais_invalidas",
        detail: "E-mail ou senha incorretos.".into(),
    }
}

/// Refuses a change that would leave no active administrator (nobody could manage users,
/// backups or restores any more).
fn guarda_ultimo_admin(db: &Db, id: &str, depois_admin_ativo: bool) -> Result<(), AppError> {
    let era = db
        .usuarios
        .get(id)
        .is_some_and(|u| u.ativo && u.papel == Papel::Admin);
    let outro = db
        .usuarios
        .iter()
        .any(|u| u.id != id && u.ativo && u.papel == Papel::Admin);
    if era && !depois_admin_ativo && !outro {
        return Err(AppError::conflict(
            "last_admin",
            "Este é o único administrador ativo; crie ou reative outro antes de desativá-lo ou mudar seu papel.",
        ));
    }
    Ok(())
}

fn duplicate_email() -> AppError {
    AppError::conflict("duplicate_email", "Já existe um usuário com este e-mail.")
}

/// The key an e-mail is compared by: trimmed, lower case.
pub fn chave_email(email: &str) -> String {
    email.trim().to_lowercase()
}

/// How many argon2id computations may run at once: one core fewer than the machine has, at
/// least one. Each takes tens of milliseconds of CPU; fifty concurrent logins on 2 cores all
/// hashing at once starved the runtime's threads (`bench/run.sh` phase `identidade`: other
/// requests' p99 went from 3 ms idle to 2.3 s during the storm).
fn vagas_argon2() -> usize {
    std::thread::available_parallelism()
        .map_or(1, |n| n.get().saturating_sub(1))
        .max(1)
}

/// The niceness of the hashing threads: a storm's hashes yield the cores to every other
/// request (which run at the process's own priority) and still use all idle CPU. Bounding
/// the hashes to one core fewer was not enough: on 2 cores the one core left is half the
/// machine, and other requests' p99 still doubled during a storm.
const NICE_ARGON2: i32 = 10;

/// A job for a hashing thread.
type Trabalho = Box<dyn FnOnce() + Send>;

/// The queue of the [`vagas_argon2`] hashing threads, started at first use: dedicated
/// threads (not the blocking pool, whose threads also write backups and files) that lower
/// their own priority once ([`NICE_ARGON2`]). Jobs queue without holding a thread of the
/// runtime.
fn fila_argon2() -> &'static std::sync::mpsc::SyncSender<Trabalho> {
    static FILA: std::sync::OnceLock<std::sync::mpsc::SyncSender<Trabalho>> =
        std::sync::OnceLock::new();
    FILA.get_or_init(|| {
        // Bounded only so that a flood cannot grow memory without limit; a full queue makes
        // the sender wait on a blocking thread, see `com_vaga`.
        let (tx, rx) = std::sync::mpsc::sync_channel::<Trabalho>(4096);
        let rx = Arc::new(std::sync::Mutex::new(rx));
        for i in 0..vagas_argon2() {
            let rx = rx.clone();
            let started = std::thread::Builder::new()
                .name(format!("argon2-{i}"))
                .spawn(move || {
                    crate::infra::prioridade::baixar(NICE_ARGON2);
                    loop {
                        let job = match rx.lock() {
                            Ok(rx) => rx.recv(),
                            Err(_) => return,
                        };
                        match job {
                            Ok(job) => job(),
                            Err(_) => return,
                        }
                    }
                });
            if let Err(e) = started {
                tracing::error!(error = %e, "could not start a password-hashing thread");
            }
        }
        tx
    })
}

/// Runs `f` (an argon2id computation) on one of the [`vagas_argon2`] low-priority hashing
/// threads; it runs to the end even if the request that asked is dropped meanwhile.
async fn com_vaga<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, AppError> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    let job: Trabalho = Box::new(move || {
        let _ = tx.send(f());
    });
    let fila = fila_argon2();
    if let Err(std::sync::mpsc::TrySendError::Full(job)) = fila.try_send(job) {
        let fila = fila.clone();
        tokio::task::spawn_blocking(move || fila.send(job))
            .await
            .map_err(|e| AppError::Internal(e.to_string()))?
            .map_err(|_| AppError::Internal("argon2: hashing threads stopped".into()))?;
    }
    rx.await
        .map_err(|_| AppError::Internal("argon2: hashing threads stopped".into()))
}

/// Hashes a password with argon2id on the hashing threads, at most [`vagas_argon2`] at once
/// (a login storm never stalls the runtime's threads).
pub async fn hash_senha(senha: String) -> Result<String, AppError> {
    com_vaga(move || {
        argon2::Argon2::default()
            .hash_password(senha.as_bytes())
            .map(|h| h.to_string())
            .map_err(|e| AppError::Internal(format!("argon2: {e}")))
    })
    .await?
}

/// Whether `senha` matches the PHC string `hash`, on the hashing threads like [`hash_senha`].
async fn confere(senha: String, hash: String) -> Result<bool, AppError> {
    com_vaga(move || {
        argon2::Argon2::default()
            .verify_password(senha.as_bytes(), hash.as_str())
            .is_ok()
    })
    .await
}

/// One guess of the password of e-mail key `chave` (sign-in, or `PUT /auth/senha`'s current
/// password) under its failure limit (SPEC-2 §10): 429 `muitas_tentativas` while the limit
/// is reached; else the guess counts as a failure from the start of its check (taken back
/// when the check could not run), so guesses sent together get no more checks than guesses
/// sent one by one. Whether `senha` matches `hash`; the caller forgets the failures on a
/// success it accepts ([`super::tentativas::Tentativas::sucesso`]).
async fn confere_limitado(
    app: &App,
    chave: &str,
    agora: i64,
    senha: String,
    hash: String,
) -> Result<bool, AppError> {
    app.tentativas
        .comecar(chave, agora)
        .map_err(muitas_tentativas)?;
    confere(senha, hash).await.inspect_err(|_| {
        app.tentativas.desfazer(chave, agora);
    })
}

/// The SHA-256 of a token, hex: the only form in which a token is stored.
pub fn hash_token(token: &str) -> String {
    hex::encode(sha2::Sha256::digest(token.as_bytes()))
}

/// A new token: 256 random bits, 64 hex characters.
fn novo_token() -> Result<String, AppError> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| AppError::Internal(format!("getrandom: {e}")))?;
    Ok(hex::encode(bytes))
}

/// A random password for the demo users: 16 characters of an unambiguous alphabet.
fn senha_aleatoria() -> Result<String, AppError> {
    const ALFABETO: &[u8] = b"abcdefghjkmnpqrstuvwxyzABCDEFGHJKMNPQRSTUVWXYZ23456789";
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).map_err(|e| AppError::Internal(format!("getrandom: {e}")))?;
    Ok(bytes
        .iter()
        .map(|b| char::from(ALFABETO[usize::from(*b) % ALFABETO.len()]))
        .collect())
}

/// A validated new user (the password still in clear: hashed by [`criar`]).
#[derive(Debug)]
pub struct NovoUsuario {
    /// Trimmed name.
    pub nome: String,
    /// Trimmed e-mail.
    pub email: String,
    /// Role.
    pub papel: Papel,
    /// The doctor of a `medico` user.
    pub medico_id: Option<String>,
    /// The patient of a `paciente` user.
    pub paciente_id: Option<String>,
    /// The password.
    pub senha: String,
}

/// A partial update of a user; `None` keeps a field.
#[derive(Debug, Default)]
pub struct AlteraUsuario {
    /// New name.
    pub nome: Option<String>,
    /// New e-mail.
    pub email: Option<String>,
    /// New role (with its `medico_id` / `paciente_id`).
    pub papel: Option<Papel>,
    /// New doctor link.
    pub medico_id: Option<Option<String>>,
    /// New patient link.
    pub paciente_id: Option<Option<String>>,
    /// Reactivate (`true`) or deactivate (`false`).
    pub ativo: Option<bool>,
    /// A new password set by an administrator (ends the user's sessions).
    pub senha: Option<String>,
}

/// A checked name as it is stored: trimmed and composed ([`Nome`]).
fn nome_guardado(nome: &str) -> String {
    Nome::parse(nome).map_or_else(|_| nome.trim().to_owned(), Nome::into_inner)
}

/// Checks a name (the rule of every name of the API, [`Nome`]).
pub fn valida_nome(erros: &mut Erros, nome: &str) {
    erros.check("nome", Nome::parse(nome));
}

/// Checks an e-mail's shape (the rule of every e-mail of the API, [`Email`]).
pub fn valida_email(erros: &mut Erros, email: &str) {
    erros.check("email", Email::parse(email));
}

/// Checks a new password: at least [`SENHA_MIN`] characters, not the e-mail.
pub fn valida_senha(erros: &mut Erros, campo: &str, senha: &str, email: &str) {
    if senha.chars().count() < SENHA_MIN {
        erros.push(campo, format!("deve ter pelo menos {SENHA_MIN} caracteres"));
    } else if senha.chars().count() > 1024 {
        erros.push(campo, "deve ter no máximo 1024 caracteres");
    } else if chave_email(senha) == chave_email(email) {
        erros.push(campo, "não pode ser o e-mail");
    }
}

/// The role's links: a `medico` names an existing doctor, a `paciente` an existing patient,
/// staff neither.
fn confere_vinculos(
    db: &Db,
    papel: Papel,
    medico_id: Option<&str>,
    paciente_id: Option<&str>,
) -> Result<(), AppError> {
    let mut erros = Erros::default();
    match papel {
        Papel::Medico => match medico_id {
            None => erros.push("medico_id", "obrigatório para o papel medico"),
            Some(id) if db.medicos.get(id).is_none() => {
                erros.push("medico_id", "médico não encontrado")
            }
            Some(_) => {}
        },
        _ if medico_id.is_some() => erros.push("medico_id", "só para o papel medico"),
        _ => {}
    }
    match papel {
        Papel::Paciente => match paciente_id {
            None => erros.push("paciente_id", "obrigatório para o papel paciente"),
            Some(id) if db.pacientes.get(id).is_none() => {
                erros.push("paciente_id", "paciente não encontrado")
            }
            Some(_) => {}
        },
        _ if paciente_id.is_some() => erros.push("paciente_id", "só para o papel paciente"),
        _ => {}
    }
    erros.finish()
}

/// The operations ending every session of `usuario_id` except `manter`.
fn encerra_sessoes(db: &Db, usuario_id: &str, manter: Option<&str>) -> Vec<Op> {
    db.sessoes
        .iter()
        .filter(|s| s.usuario_id == usuario_id && Some(s.id.as_str()) != manter)
        .map(|s| Op::DelSessao(s.id.clone()))
        .collect()
}

/// Finds one user.
pub fn find(app: &App, id: &str) -> Result<Arc<Usuario>, AppError> {
    let found = app.store.read().usuarios.get(id).cloned();
    found.ok_or_else(|| AppError::not_found("Usuário"))
}

/// One page of the users, by e-mail.
pub fn page(app: &App, janela: Janela) -> Recorte<Usuario> {
    let db = app.store.read();
    janela.recortar(db.usuarios.iter(), Some(db.usuarios.len()))
}

/// Creates a user (SPEC-2 §10): unique e-mail (409 `duplicate_email`), links checked.
pub async fn criar(app: &App, ctx: &Contexto, novo: NovoUsuario) -> Result<Arc<Usuario>, AppError> {
    let senha_hash = hash_senha(novo.senha).await?;
    let agora = app.clock.stamp();
    app.commit(ctx, |db| {
        if db
            .usuarios
            .id_by_unique(&chave_email(&novo.email))
            .is_some()
        {
            return Err(duplicate_email());
        }
        confere_vinculos(
            db,
            novo.papel,
            novo.medico_id.as_deref(),
            novo.paciente_id.as_deref(),
        )?;
        let u = Arc::new(Usuario {
            id: new_id(),
            nome: nome_guardado(&novo.nome),
            email: novo.email.trim().to_owned(),
            papel: novo.papel,
            medico_id: novo.medico_id,
            paciente_id: novo.paciente_id,
            ativo: true,
            senha_hash,
            created_at: agora.clone(),
            updated_at: agora,
        });
        Ok((vec![Op::PutUsuario(u.clone())], u))
    })
    .await
}

/// Changes a user; deactivating or setting a password ends their sessions.
pub async fn alterar(
    app: &App,
    ctx: &Contexto,
    id: &str,
    mut a: AlteraUsuario,
) -> Result<Arc<Usuario>, AppError> {
    let senha_hash = match a.senha.take() {
        Some(s) => Some(hash_senha(s).await?),
        None => None,
    };
    let agora = app.clock.stamp();
    app.commit(ctx, |db| {
        let old = db
            .usuarios
            .get(id)
            .ok_or_else(|| AppError::not_found("Usuário"))?;
        let mut u = Usuario::clone(old);
        if let Some(n) = a.nome {
            u.nome = nome_guardado(&n);
        }
        if let Some(e) = a.email {
            let e = e.trim().to_owned();
            if db
                .usuarios
                .id_by_unique(&chave_email(&e))
                .is_some_and(|other| other != id)
            {
                return Err(duplicate_email());
            }
            u.email = e;
        }
        if let Some(p) = a.papel {
            u.papel = p;
            if !p.staff() {
                // A new role drops the link that belonged to the old one unless restated.
                if p != Papel::Medico {
                    u.medico_id = None;
                }
                if p != Papel::Paciente {
                    u.paciente_id = None;
                }
            } else {
                u.medico_id = None;
                u.paciente_id = None;
            }
        }
        if let Some(m) = a.medico_id {
            u.medico_id = m;
        }
        if let Some(p) = a.paciente_id {
            u.paciente_id = p;
        }
        confere_vinculos(
            db,
            u.papel,
            u.medico_id.as_deref(),
            u.paciente_id.as_deref(),
        )?;
        let encerrar = a.ativo == Some(false) || senha_hash.is_some();
        if let Some(at) = a.ativo {
            u.ativo = at;
        }
        if let Some(h) = senha_hash {
            u.senha_hash = h;
        }
        guarda_ultimo_admin(db, id, u.ativo && u.papel == Papel::Admin)?;
        u.updated_at = agora;
        let u = Arc::new(u);
        let mut ops = vec![Op::PutUsuario(u.clone())];
        if encerrar {
            ops.extend(encerra_sessoes(db, id, None));
        }
        Ok((ops, u))
    })
    .await
}

/// Deactivates a user (`DELETE /usuarios/{id}`): the record stays, every session ends.
pub async fn desativar(app: &App, ctx: &Contexto, id: &str) -> Result<(), AppError> {
    let agora = app.clock.stamp();
    app.commit(ctx, |db| {
        let old = db
            .usuarios
            .get(id)
            .ok_or_else(|| AppError::not_found("Usuário"))?;
        guarda_ultimo_admin(db, id, false)?;
        let mut ops = encerra_sessoes(db, id, None);
        if old.ativo {
            let mut u = Usuario::clone(old);
            u.ativo = false;
            u.updated_at = agora;
            ops.push(Op::PutUsuario(Arc::new(u)));
        }
        Ok((ops, ()))
    })
    .await
}

/// A session just opened: the token (shown once), its expiry and the user.
#[derive(Debug)]
pub struct Entrada {
    /// The bearer token.
    pub token: String,
    /// Expiry, Unix seconds.
    pub expira_em: i64,
    /// The user.
    pub usuario: Arc<Usuario>,
}

/// Signs in (SPEC-2 §10): the per-address and per-e-mail limits first (429
/// `muitas_tentativas`), then one argon2id verification whether or not the e-mail exists,
/// then a session valid `--sessao-horas`. Any failure is the same 401.
/// Success (`login`) and failure (`login_falhou`, naming the user when the e-mail exists)
/// are recorded in the audit trail; the success in the same write as the session.
pub async fn login(
    app: &App,
    ctx: &Contexto,
    email: &str,
    senha: String,
    ip: &str,
) -> Result<Entrada, AppError> {
    let agora = jiff::Timestamp::now().as_second();
    app.tentativas
        .entrada_ip("login", ip, agora)
        .map_err(muitas_tentativas)?;
    let chave: String = chave_email(email).chars().take(254).collect();
    let usuario = {
        let db = app.store.read();
        db.usuarios
            .id_by_unique(&chave)
            .and_then(|id| db.usuarios.get(id))
            .cloned()
    };
    let hash = usuario
        .as_ref()
        .map_or_else(|| DUMMY_HASH.to_owned(), |u| u.senha_hash.clone());
    let ok = confere_limitado(app, &chave, agora, senha, hash).await?;
    let usuario = match usuario {
        Some(u) if ok && u.ativo => u,
        tentado => {
            let mut falha = ctx.clone();
            // The account that was tried, when the e-mail exists.
            falha.chamador = tentado.as_ref().map(|u| chamador_de(u, None));
            let id = tentado.as_ref().map(|u| u.id.clone());
            super::auditoria::registrar(app, &falha, Acao::LoginFalhou, "usuarios", id).await?;
            return Err(match app.tentativas.falhou(&chave, agora) {
                Some(secs) => muitas_tentativas(secs),
                None => credenciais_invalidas(),
            });
        }
    };
    app.tentativas.sucesso(&chave);
    let token = novo_token()?;
    let horas = i64::try_from(app.config.sessao_horas).unwrap_or(12);
    let expira_em = agora.saturating_add(horas.saturating_mul(3600));
    let sessao = Arc::new(Sessao {
        id: hash_token(&token),
        usuario_id: usuario.id.clone(),
        expira_em,
    });
    let mut entrou = ctx.clone();
    entrou.chamador = Some(chamador_de(&usuario, None));
    let registro = super::auditoria::entrada(
        app,
        &entrou,
        Acao::Login,
        "usuarios",
        Some(usuario.id.clone()),
    );
    app.write(|db| {
        // The same write forgets a few expired sessions, so they never pile up.
        let mut ops: Vec<Op> = db
            .sessoes
            .iter()
            .take_while(|s| s.expira_em <= agora)
            .take(100)
            .map(|s| Op::DelSessao(s.id.clone()))
            .collect();
        ops.push(Op::PutSessao(sessao));
        ops.push(registro);
        Ok((ops, ()))
    })
    .await?;
    Ok(Entrada {
        token,
        expira_em,
        usuario,
    })
}

/// The caller a token names, if it is a live session of an active user.
pub fn autenticar(app: &App, token: &str) -> Option<Chamador> {
    // Tokens are 64 hex characters: anything else is not worth a hash.
    if token.len() != 64 || !token.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let id = hash_token(token);
    let db = app.store.read();
    let s = db.sessoes.get(&id)?;
    if s.expira_em <= jiff::Timestamp::now().as_second() {
        return None;
    }
    let u = db.usuarios.get(&s.usuario_id).filter(|u| u.ativo)?;
    Some(chamador_de(u, Some(id)))
}

/// The caller `quem` stands for now, checked again against its session: `None` once that
/// session ended (logout, expiry, a new password) or its user was deactivated; the user's
/// current role otherwise. A caller without a session (single-user mode, the system) stands
/// as it is. Open event streams ask this before each event (SPEC-2 §10: a dead token
/// receives nothing more).
pub fn vigente(app: &App, quem: &Chamador) -> Option<Chamador> {
    let Some(id) = quem.sessao.as_deref() else {
        return Some(quem.clone());
    };
    let db = app.store.read();
    let s = db.sessoes.get(id)?;
    if s.expira_em <= jiff::Timestamp::now().as_second() {
        return None;
    }
    let u = db.usuarios.get(&s.usuario_id).filter(|u| u.ativo)?;
    Some(chamador_de(u, Some(id.to_owned())))
}

/// The caller user `u` is, with the session it came with.
fn chamador_de(u: &Usuario, sessao: Option<String>) -> Chamador {
    Chamador {
        usuario_id: Some(u.id.clone()),
        papel: u.papel,
        medico_id: u.medico_id.clone(),
        paciente_id: u.paciente_id.clone(),
        sessao,
    }
}

/// The signed-in user of `ctx` (404 in single-user mode, where there is none).
pub fn eu(app: &App, ctx: &Contexto) -> Result<Arc<Usuario>, AppError> {
    let id = ctx
        .chamador
        .as_ref()
        .and_then(|c| c.usuario_id.as_deref())
        .ok_or_else(|| AppError::not_found("Usuário"))?;
    find(app, id)
}

/// Ends the caller's session (`POST /auth/logout`).
pub async fn logout(app: &App, ctx: &Contexto) -> Result<(), AppError> {
    let Some(sessao) = ctx.chamador.as_ref().and_then(|c| c.sessao.clone()) else {
        return Ok(());
    };
    let usuario_id = ctx.chamador.as_ref().and_then(|c| c.usuario_id.clone());
    let registro = super::auditoria::entrada(app, ctx, Acao::Logout, "usuarios", usuario_id);
    app.write(|db| {
        let ops = if db.sessoes.get(&sessao).is_some() {
            vec![Op::DelSessao(sessao), registro]
        } else {
            Vec::new()
        };
        Ok((ops, ()))
    })
    .await
}

/// Changes the caller's password after checking the current one; every other session of
/// the user ends (SPEC-2 §10).
pub async fn trocar_senha(
    app: &App,
    ctx: &Contexto,
    atual: String,
    nova: String,
) -> Result<(), AppError> {
    let u = eu(app, ctx)?;
    let mut erros = Erros::default();
    valida_senha(&mut erros, "senha_nova", &nova, &u.email);
    erros.finish()?;
    // The current password is guessed here as at sign-in: the same failures per e-mail,
    // counted together (a borrowed session is not a way around the limit), and a wrong
    // one is audited as `login_falhou`.
    let agora = jiff::Timestamp::now().as_second();
    let chave: String = chave_email(&u.email).chars().take(254).collect();
    let ok = confere_limitado(app, &chave, agora, atual, u.senha_hash.clone()).await?;
    if !ok {
        super::auditoria::registrar(app, ctx, Acao::LoginFalhou, "usuarios", Some(u.id.clone()))
            .await?;
        return Err(match app.tentativas.falhou(&chave, agora) {
            Some(secs) => muitas_tentativas(secs),
            None => AppError::campo("senha_atual", "senha atual incorreta"),
        });
    }
    app.tentativas.sucesso(&chave);
    let hash = hash_senha(nova).await?;
    let manter = ctx.chamador.as_ref().and_then(|c| c.sessao.clone());
    let agora = app.clock.stamp();
    // Audited like any change to a user (SPEC-2 §10), in the same write.
    app.commit(ctx, |db| {
        let cur = db
            .usuarios
            .get(&u.id)
            .ok_or_else(|| AppError::not_found("Usuário"))?;
        let mut novo = Usuario::clone(cur);
        novo.senha_hash = hash;
        novo.updated_at = agora;
        let mut ops = encerra_sessoes(db, &u.id, manter.as_deref());
        ops.push(Op::PutUsuario(Arc::new(novo)));
        Ok((ops, ()))
    })
    .await
}

/// Creates an administrator after validating the input (the first administrator and the
/// `usuarios criar-admin` command).
pub async fn criar_admin(
    app: &App,
    email: &str,
    nome: &str,
    senha: String,
) -> Result<Arc<Usuario>, AppError> {
    let mut erros = Erros::default();
    valida_nome(&mut erros, nome);
    valida_email(&mut erros, email);
    valida_senha(&mut erros, "senha", &senha, email);
    erros.finish()?;
    criar(
        app,
        &Contexto::interno("criar_admin"),
        NovoUsuario {
            nome: nome.to_owned(),
            email: email.to_owned(),
            papel: Papel::Admin,
            medico_id: None,
            paciente_id: None,
            senha,
        },
    )
    .await
}

/// At start: when no user exists and `AGENDAMENTO_ADMIN_EMAIL` and `AGENDAMENTO_ADMIN_SENHA`
/// are set, creates that administrator. Returns whether it did. An empty value counts as
/// unset (a compose file's `${VAR:-}` passes one); only one of the two set is a warning, not
/// an administrator.
pub async fn primeiro_admin(app: &App) -> Result<bool, AppError> {
    let email = app
        .config
        .admin_email
        .as_deref()
        .map(str::trim)
        .filter(|e| !e.is_empty());
    let senha = app.config.admin_senha.as_ref().filter(|s| !s.0.is_empty());
    let (email, senha) = match (email, senha) {
        (Some(e), Some(s)) => (e, s),
        (None, None) => return Ok(false),
        (Some(_), None) | (None, Some(_)) => {
            tracing::warn!(target: "agendamento::usuarios",
                "AGENDAMENTO_ADMIN_EMAIL and AGENDAMENTO_ADMIN_SENHA must both be set to create the first administrator; none was created");
            return Ok(false);
        }
    };
    if !app.store.read().usuarios.is_empty() {
        return Ok(false);
    }
    match criar_admin(app, email, "Administrador", senha.0.clone()).await {
        Ok(_) => Ok(true),
        // Several instances started together on one database: another one created it
        // between the look above and this write.
        Err(AppError::Conflict {
            code: "duplicate_email",
            ..
        }) => Ok(false),
        Err(e) => Err(e),
    }
}

/// The demo users of a first start with demo data and sign-in on: their e-mails and roles
/// and the one random password they share, or `None` when users already exist.
pub async fn criar_demo(app: &App) -> Result<Option<(Vec<(Papel, String)>, String)>, AppError> {
    let (medico, paciente) = {
        let db = app.store.read();
        if !db.usuarios.is_empty() {
            return Ok(None);
        }
        (
            db.medicos.iter().next().map(|m| m.id.clone()),
            db.pacientes.iter().next().map(|p| p.id.clone()),
        )
    };
    let senha = senha_aleatoria()?;
    let ctx = Contexto::interno("demo");
    let mut criados = Vec::new();
    for papel in Papel::ALL {
        let (medico_id, paciente_id) = match papel {
            Papel::Medico => (medico.clone(), None),
            Papel::Paciente => (None, paciente.clone()),
            Papel::Admin | Papel::Recepcao => (None, None),
        };
        if (papel == Papel::Medico && medico_id.is_none())
            || (papel == Papel::Paciente && paciente_id.is_none())
        {
            continue;
        }
        let email = format!("{}@demo.agendamento.local", papel.nome());
        criar(
            app,
            &ctx,
            NovoUsuario {
                nome: format!("Demo {}", papel.nome()),
                email: email.clone(),
                papel,
                medico_id,
                paciente_id,
                senha: senha.clone(),
            },
        )
        .await?;
        criados.push((papel, email));
    }
    Ok(Some((criados, senha)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use argon2::password_hash::phc::PasswordHash;

    #[test]
    fn dummy_hash_has_the_parameters_of_real_hashes() {
        let real = argon2::Argon2::default()
            .hash_password(b"qualquer senha")
            .expect("hash")
            .to_string();
        let real = PasswordHash::new(&real).expect("parse");
        let dummy = PasswordHash::new(DUMMY_HASH).expect("parse dummy");
        assert_eq!(dummy.algorithm, real.algorithm);
        assert_eq!(dummy.version, real.version);
        assert_eq!(dummy.params, real.params);
        assert_eq!(
            dummy.hash.map(|h| h.len()),
            real.hash.map(|h| h.len()),
            "same output length"
        );
        // It is verified for real (a full argon2id run), and nothing matches it.
        assert_eq!(
            argon2::Argon2::default().verify_password(b"qualquer senha", DUMMY_HASH),
            Err(argon2::password_hash::Error::PasswordInvalid)
        );
    }

    #[test]
    fn tokens_are_64_hex_chars_and_differ() {
        let a = novo_token().expect("token");
        let b = novo_token().expect("token");
        assert_eq!(a.len(), 64);
        assert!(a.bytes().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, b);
        assert_ne!(hash_token(&a), a);
    }

    #[cfg(target_os = "linux")]
    fn nice_da_thread(nome: &str) -> Option<i64> {
        crate::infra::prioridade::nice_da_thread("self", nome)
    }

    #[cfg(target_os = "linux")]
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn passwords_are_hashed_on_threads_that_yield_to_other_requests() {
        let base = nice_da_thread("tokio-runtime-w").or(Some(0));
        let h = hash_senha("uma senha qualquer".into()).await.expect("hash");
        assert!(h.starts_with("$argon2id$"));
        let nice = nice_da_thread("argon2-0").expect("the hashing thread runs");
        assert_eq!(Some(nice), base.map(|b| b + i64::from(NICE_ARGON2)));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn argon2_runs_at_most_one_core_fewer_than_the_machine_has_at_once() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        let limite = vagas_argon2();
        assert!(limite >= 1);
        let (agora, maximo) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        let tarefas: Vec<_> = (0..limite + 3)
            .map(|_| {
                let (agora, maximo) = (agora.clone(), maximo.clone());
                tokio::spawn(com_vaga(move || {
                    let n = agora.fetch_add(1, Ordering::SeqCst) + 1;
                    maximo.fetch_max(n, Ordering::SeqCst);
                    // Stands for a hash's CPU time, long enough for the others to pile up.
                    std::thread::sleep(std::time::Duration::from_millis(30));
                    agora.fetch_sub(1, Ordering::SeqCst);
                }))
            })
            .collect();
        for t in tarefas {
            t.await.expect("join").expect("slot");
        }
        let maximo = maximo.load(Ordering::SeqCst);
        assert!(
            (1..=limite).contains(&maximo),
            "{maximo} at once, limit {limite}"
        );
    }
}
