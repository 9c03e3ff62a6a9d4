//! Reading archives: the manifest, the members' sizes and checksums (streamed, bounded), the
//! format, and the API's rules over the records, before anything is kept.

use super::*;

/// The envelope of a data file, without keeping its records.
#[derive(Deserialize)]
pub(super) struct Envelope {
    versao: u32,
    seq: u64,
    registros: Vec<serde::de::IgnoredAny>,
}

/// Reads at most `limit` bytes of `r` through SHA-256 without keeping them; returns the
/// digest and how many bytes there were (`limit + 1` means "more than `limit`").
pub(super) fn resumir(r: &mut dyn Read, limit: u64) -> io::Result<(String, u64)> {
    let mut h = Sha256::new();
    let mut n = 0u64;
    let mut buf = vec![0u8; 64 << 10];
    let mut r = r.take(limit + 1);
    loop {
        let k = r.read(&mut buf)?;
        if k == 0 {
            return Ok((hex::encode(h.finalize()), n));
        }
        h.update(&buf[..k]);
        n += k as u64;
    }
}

/// Loads and checks an archive: the manifest and the members match exactly, every data file
/// has the size and checksum the manifest gives (checked while streaming, within
/// [`MAX_ENTRY`] and [`MAX_TOTAL`], before anything is kept in memory), parses, is in the
/// format this server writes, and the records keep every rule of the API
/// ([`crate::services::backup_regras`]). Returns the database it holds. Blocking.
pub fn carregar(app: &App, path: &Path) -> Result<(Db, Manifesto), String> {
    // No valid archive is larger than the data it may hold: refuse before even reading its
    // central directory (whose entries the ZIP reader keeps in memory).
    let tamanho = fs::metadata(path)
        .map_err(|e| format!("não foi possível abrir o arquivo: {e}"))?
        .len();
    if tamanho > MAX_TOTAL + (16 << 20) {
        return Err(format!(
            "o arquivo tem {tamanho} bytes, acima do limite de {MAX_TOTAL} bytes de dados"
        ));
    }
    let manifesto = ler_manifesto(path)?;
    let f = File::open(path).map_err(|e| format!("não foi possível abrir o arquivo: {e}"))?;
    let mut zip = zip::ZipArchive::new(f).map_err(|e| format!("não é um ZIP válido: {e}"))?;

    // The manifest names exactly the data files, and the archive holds exactly those.
    // An older archive may lack the collections added since (`opcional`).
    let possiveis: BTreeSet<String> = colecoes().iter().map(file_name).collect();
    let nomeados: Vec<&str> = manifesto.arquivos.iter().map(|a| a.nome.as_str()).collect();
    let nomeados_set: BTreeSet<String> = nomeados.iter().map(|n| (*n).to_owned()).collect();
    let esperados: BTreeSet<String> = colecoes()
        .iter()
        .filter(|c| !opcional(*c) || nomeados_set.contains(&file_name(*c)))
        .map(file_name)
        .collect();
    if nomeados_set.len() != nomeados.len() {
        return Err("o manifesto lista um arquivo mais de uma vez".into());
    }
    if let Some(n) = nomeados_set.difference(&possiveis).next() {
        return Err(format!(
            "o manifesto lista {n}, que não é um arquivo de dados"
        ));
    }
    if let Some(n) = esperados.difference(&nomeados_set).next() {
        return Err(format!("{n} não consta do manifesto"));
    }
    let mut membros: BTreeSet<String> = BTreeSet::new();
    for nome in zip.file_names() {
        let nome = nome.map_err(|e| format!("nome de membro ilegível: {e}"))?;
        if !membros.insert(nome.clone().into_owned()) {
            return Err(format!("{nome} aparece mais de uma vez no arquivo"));
        }
    }
    let mut com_manifesto = nomeados_set.clone();
    com_manifesto.insert("manifest.json".into());
    if let Some(n) = membros.difference(&com_manifesto).next() {
        return Err(format!("o arquivo contém {n}, que o manifesto não lista"));
    }
    if let Some(n) = com_manifesto.difference(&membros).next() {
        return Err(format!(
            "{n} consta do manifesto mas está ausente do arquivo"
        ));
    }
    let total: u64 = manifesto.arquivos.iter().map(|a| a.bytes).sum();
    if total > MAX_TOTAL {
        return Err(format!(
            "os dados somam {total} bytes, acima do limite de {MAX_TOTAL} bytes"
        ));
    }

    // First pass: sizes and checksums, streamed (a ZIP bomb inflates into nothing kept).
    for info in &manifesto.arquivos {
        let nome = &info.nome;
        if info.bytes > MAX_ENTRY {
            return Err(format!(
                "{nome}: {} bytes, acima do limite de {MAX_ENTRY} bytes por arquivo",
                info.bytes
            ));
        }
        let mut entry = zip
            .by_name(nome)
            .map_err(|_| format!("{nome} ausente do arquivo"))?;
        if entry.size() != info.bytes {
            return Err(format!("{nome}: tamanho diferente do manifesto"));
        }
        let (sha, n) =
            resumir(&mut entry, info.bytes).map_err(|e| format!("{nome} ilegível: {e}"))?;
        if n != info.bytes {
            return Err(format!("{nome}: tamanho diferente do manifesto"));
        }
        if sha != info.sha256 {
            return Err(format!("{nome}: soma de verificação (sha256) não confere"));
        }
    }

    // Second pass: each file, now known to be small and intact, is parsed.
    let mut db = Db::empty();
    let mut registros = Contagens::default();
    for colecao in colecoes().iter() {
        let nome = file_name(colecao);
        if !esperados.contains(&nome) {
            continue;
        }
        let mut entry = zip
            .by_name(&nome)
            .map_err(|_| format!("{nome} ausente do arquivo"))?;
        let mut bytes = Vec::with_capacity(usize::try_from(entry.size()).unwrap_or(0));
        entry
            .by_ref()
            .take(MAX_ENTRY)
            .read_to_end(&mut bytes)
            .map_err(|e| format!("{nome} ilegível: {e}"))?;
        let json_err = |e: serde_json::Error| {
            format!(
                "{nome}: JSON inválido (linha {}, coluna {}): {e}",
                e.line(),
                e.column()
            )
        };
        let env: Envelope = serde_json::from_slice(&bytes).map_err(json_err)?;
        if env.versao != SNAPSHOT_VERSION {
            return Err(format!(
                "{nome}: versão de formato {} desconhecida (esperada {SNAPSHOT_VERSION})",
                env.versao
            ));
        }
        if env.seq != manifesto.seq {
            return Err(format!("{nome}: seq diferente do manifesto"));
        }
        if let Some(n) = contagem(&mut registros, colecao) {
            *n = env.registros.len();
        }
        db.load_collection(colecao, &bytes).map_err(json_err)?;
    }
    if registros != contagens(&db) {
        return Err("há registros com o mesmo id".into());
    }
    if contagens(&db) != manifesto.contagens {
        return Err("as contagens do manifesto não conferem com os dados".into());
    }
    let tirado_em = manifesto
        .exportado_em
        .as_deref()
        .unwrap_or(&manifesto.criado_em)
        .parse::<jiff::Timestamp>()
        .map_err(|_| "manifest.json: criado_em não é uma data e hora RFC 3339".to_owned())?;
    let tirado_em = tirado_em.to_zoned(app.clock.tz().clone()).datetime();
    let problemas = crate::services::backup_regras::problemas(
        &db,
        tirado_em,
        app.clock.today(),
        app.clock.tz(),
    );
    if !problemas.is_empty() {
        return Err(format!(
            "os dados não obedecem às regras do sistema: {}",
            problemas.join("; ")
        ));
    }
    Ok((db, manifesto))
}
