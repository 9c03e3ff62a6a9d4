// The clinic's live page (SPEC-2 §15). Plain JavaScript, no build step, same origin only.
//
// Flow: `entrar` asks `GET /auth/eu` who is signed in (the session cookie rides on every
// GET, EventSource included); without a session it shows the sign-in form, whose
// `POST /auth/login` sets that cookie. Single-user mode (`--auth off`) answers 404 there
// and the page goes on as the administrator. The log tail is shown to administrators only.
// Then the agenda event stream is opened and every (re)opening triggers `sincronizar`, which
// refetches the day's slots, the doctors, the tasks and (for staff) the failed notifications:
// whatever happened while the stream was down (a server restart empties the server's replay
// buffer) is caught up that way. The browser's EventSource reconnects by itself sending
// `Last-Event-ID`; events that arrive while a refetch is in flight are kept and applied after
// it, in order.
'use strict';

// Today in the clinic's zone: the server's date when the page loaded, then followed by the
// server's clock (the browser's, corrected by how far it was from the server's at load,
// `data-agora`) in the clinic's zone (`data-fuso`, an IANA name), so a page left open
// overnight moves on to the new day (acompanharDia) even on a machine whose clock is wrong.
let HOJE = document.documentElement.dataset.hoje;
const FUSO = document.documentElement.dataset.fuso;
const DESVIO = (Number(document.documentElement.dataset.agora) - Date.now()) || 0;
const NOMES_ESTADO = { disponivel: 'disponível', reservado: 'reservado', ocupado: 'ocupado' };
const CURTO_ESTADO = { disponivel: 'livre', reservado: 'reserv.', ocupado: 'ocupado' };
const NOMES_TIPO = { agendar_consulta: 'Agendar consulta', agendar_serie: 'Agendar série', backup: 'Backup', gerar_relatorio: 'Gerar relatório' };
const NOMES_STATUS = { pendente: 'pendente', executando: 'executando', concluida: 'concluída', falhou: 'falhou' };
const NOMES_EVENTO = {
  'consulta.agendada': 'Consulta agendada',
  'consulta.confirmada': 'Consulta confirmada',
  'consulta.remarcada': 'Consulta remarcada',
  'consulta.cancelada': 'Consulta cancelada',
  'consulta.faltou': 'Falta registrada',
  'consulta.lembrete': 'Lembrete de consulta',
  'lista_espera.vaga_oferecida': 'Vaga oferecida (lista de espera)',
};
const MAX_TAREFAS = 15;
const MAX_FALHAS = 20;
const MAX_LOGS = 200;

const el = (id) => document.getElementById(id);
const painel = {
  dia: HOJE,
  medicos: new Map(), // id -> {nome, especialidade}
  slots: new Map(), // medico_id -> Map(slot -> estado), the shown day only
  celulas: new Map(), // `${medico_id}|${slot}` -> <li>
  tarefas: new Map(), // id -> {id, tipo, status, progresso}
  falhas: new Map(), // id -> failed notification, newest first (staff only)
  sincronizando: false,
  deNovo: false,
  pendentes: [], // events received during a refetch
  recarregar: new Set(), // doctors whose row is refetched soon
};

/** Who is signed in: `null` in single-user mode (`--auth off`). */
painel.usuario = null;

const NOMES_PAPEL = { admin: 'administração', recepcao: 'recepção', medico: 'médico', paciente: 'paciente' };
/**
 * The token of this browser's sign-in, kept for `POST /auth/logout`: a write needs the bearer
 * (the cookie authenticates GETs only), and any tab may be the one that signs out.
 */
const CHAVE_TOKEN = 'agendamento_painel_token';

/** Shows the sign-in form and resolves once a sign-in succeeds (the cookie is then set). */
function pedirEntrada() {
  const form = el('form-entrada');
  el('entrada').hidden = false;
  el('conteudo').hidden = true;
  conexao('conectando', 'Aguardando entrada');
  el('email').focus();
  return new Promise((pronto) => {
    form.onsubmit = async (e) => {
      e.preventDefault();
      const erro = el('erro-entrada');
      erro.hidden = true;
      const botao = form.querySelector('button[type="submit"]');
      botao.disabled = true;
      try {
        const r = await fetch('/auth/login', {
          method: 'POST',
          headers: { 'content-type': 'application/json', accept: 'application/json' },
          body: JSON.stringify({ email: el('email').value, senha: el('senha').value }),
        });
        const corpo = await r.json().catch(() => ({}));
        if (!r.ok) {
          erro.textContent = r.status === 401 ? 'E-mail ou senha incorretos.' : (corpo.detail ?? `Erro ${r.status}.`);
          erro.hidden = false;
          return;
        }
        localStorage.setItem(CHAVE_TOKEN, corpo.token);
        el('senha').value = '';
        el('entrada').hidden = true;
        el('conteudo').hidden = false;
        pronto(corpo.usuario);
      } catch {
        erro.textContent = 'Sem conexão com o servidor.';
        erro.hidden = false;
      } finally {
        botao.disabled = false;
      }
    };
  });
}

function mostrarUsuario() {
  const u = painel.usuario;
  el('quem').hidden = !u;
  if (u) el('nome-usuario').textContent = `${u.nome} (${NOMES_PAPEL[u.papel] ?? u.papel})`;
  // Logs are for administrators (SPEC-2 §10); single-user mode is the administrator.
  el('logs').hidden = !!u && u.papel !== 'admin';
  // Notifications are for staff (`GET /notificacoes`).
  el('falhas').hidden = !!u && u.papel !== 'admin' && u.papel !== 'recepcao';
}

/** Who is calling: a signed-in user, single-user mode, or the sign-in form first. */
async function entrar() {
  let r;
  for (;;) {
    try {
      r = await fetch('/auth/eu', { headers: { accept: 'application/json' } });
      break;
    } catch {
      conexao('reconectando', 'Sem conexão; tentando de novo…');
      await new Promise((ok) => setTimeout(ok, 2000));
    }
  }
  if (r.ok) painel.usuario = await r.json();
  else if (r.status === 401) painel.usuario = await pedirEntrada();
  else if (r.status === 404) painel.usuario = null; // --auth off, no user
  else {
    // 5xx, 429: not an answer about who is calling; ask again shortly.
    conexao('reconectando', 'Servidor indisponível; tentando de novo…');
    await new Promise((ok) => setTimeout(ok, 2000));
    return entrar();
  }
  mostrarUsuario();
}

async function sair() {
  const token = localStorage.getItem(CHAVE_TOKEN);
  if (token) {
    // The token goes only once the server ended the session (204) or says it is gone
    // (401): on a shared front-desk computer a failed sign-out must not look done.
    const r = await fetch('/auth/logout', { method: 'POST', headers: { authorization: `Bearer ${token}` } })
      .catch(() => null);
    if (!r || (r.status !== 204 && r.status !== 401)) {
      avisar('Não foi possível sair; tente de novo.');
      return;
    }
    localStorage.removeItem(CHAVE_TOKEN);
  }
  location.reload();
}

/** Whether the session this page signed in with has ended (expired, signed out elsewhere). */
async function semSessao() {
  if (!painel.usuario) return false; // single-user mode
  try {
    return (await fetch('/auth/eu', { headers: { accept: 'application/json' } })).status === 401;
  } catch {
    return false;
  }
}

/** A session that ended meanwhile (expired, signed out elsewhere): sign in again. */
async function sessaoEncerrada() {
  if (painel.reentrando) return painel.reentrando;
  const antes = painel.usuario?.id;
  painel.reentrando = pedirEntrada().then((u) => {
    // Another user: the sections and lists were the previous one's; start afresh.
    if (antes && u?.id !== antes) location.reload();
    painel.usuario = u;
    painel.reentrando = null;
    mostrarUsuario();
    sincronizar();
  });
  return painel.reentrando;
}

async function obter(caminho) {
  const r = await fetch(caminho, { headers: { accept: 'application/json' } });
  if (r.status === 401) sessaoEncerrada();
  if (!r.ok) throw new Error(`${caminho} respondeu ${r.status}`);
  return r.json();
}

function avisar(texto) {
  const a = el('aviso');
  a.textContent = texto ?? '';
  a.hidden = !texto;
}

function conexao(estado, texto) {
  const c = el('conexao');
  c.dataset.estado = estado;
  c.textContent = texto;
}

// ---- agenda ---------------------------------------------------------------------------

function hora(slot) {
  return slot.slice(11, 16);
}

function dataLonga(dia) {
  const [a, m, d] = dia.split('-').map(Number);
  const data = new Date(Date.UTC(a, m - 1, d));
  return data.toLocaleDateString('pt-BR', { weekday: 'long', day: 'numeric', month: 'long', year: 'numeric', timeZone: 'UTC' });
}

function pintar(li, medicoId, slot, estado) {
  const nome = painel.medicos.get(medicoId)?.nome ?? medicoId;
  li.className = `slot ${estado}`;
  li.dataset.estado = estado;
  const rotulo = `${nome}, ${hora(slot)}: ${NOMES_ESTADO[estado] ?? estado}`;
  li.setAttribute('aria-label', rotulo);
  li.title = rotulo;
  li.lastChild.textContent = CURTO_ESTADO[estado] ?? estado;
}

function linhaMedico(id, slots) {
  const m = painel.medicos.get(id);
  const art = document.createElement('article');
  art.className = 'medico';
  art.dataset.medico = id;
  const h = document.createElement('h3');
  h.id = `medico-${id}`;
  h.textContent = m?.nome ?? `Médico ${id}`;
  if (m?.especialidade) {
    const e = document.createElement('span');
    e.className = 'especialidade';
    e.textContent = ` — ${m.especialidade}`;
    h.append(e);
  }
  art.append(h);
  if (slots.size === 0) {
    const p = document.createElement('p');
    p.className = 'vazio';
    p.textContent = 'Sem horários a partir de agora neste dia.';
    art.append(p);
    return art;
  }
  const ul = document.createElement('ul');
  ul.className = 'slots';
  ul.setAttribute('aria-labelledby', h.id);
  for (const [slot, estado] of slots) {
    const li = document.createElement('li');
    li.dataset.medico = id;
    li.dataset.slot = slot;
    const t = document.createElement('span');
    t.className = 'hora';
    t.textContent = hora(slot);
    const s = document.createElement('span');
    s.className = 'estado';
    li.append(t, s);
    pintar(li, id, slot, estado);
    painel.celulas.set(`${id}|${slot}`, li);
    ul.append(li);
  }
  art.append(ul);
  return art;
}

function ordemMedicos() {
  const nome = (id) => painel.medicos.get(id)?.nome ?? id;
  return [...painel.slots.keys()].sort((a, b) => nome(a).localeCompare(nome(b), 'pt-BR'));
}

function desenharAgenda() {
  painel.celulas.clear();
  const caixa = el('medicos');
  const linhas = ordemMedicos().map((id) => linhaMedico(id, painel.slots.get(id)));
  if (linhas.length === 0) {
    const p = document.createElement('p');
    p.className = 'vazio';
    p.textContent = 'Nenhum médico com horários cadastrados.';
    linhas.push(p);
  }
  caixa.replaceChildren(...linhas);
  resumir();
}

function resumir() {
  const n = { disponivel: 0, reservado: 0, ocupado: 0 };
  for (const s of painel.slots.values()) for (const e of s.values()) n[e] = (n[e] ?? 0) + 1;
  const quando = painel.dia === HOJE ? 'Hoje' : 'Dia';
  const conta = (k, um, varios) => `${k} ${k === 1 ? um : varios}`;
  el('resumo').textContent = `${quando}, ${dataLonga(painel.dia)}: ` +
    `${conta(n.disponivel, 'disponível', 'disponíveis')}, ${conta(n.reservado, 'reservado', 'reservados')}, ` +
    `${conta(n.ocupado, 'ocupado', 'ocupados')} (${conta(painel.slots.size, 'médico', 'médicos')}).`;
}

function marcar(medicoId, slot, estado) {
  if (!slot || slot.slice(0, 10) !== painel.dia) return;
  const li = painel.celulas.get(`${medicoId}|${slot}`);
  if (!li) {
    recarregarMedico(medicoId);
    return;
  }
  painel.slots.get(medicoId)?.set(slot, estado);
  pintar(li, medicoId, slot, estado);
  resumir();
}

function slotsParaMapa(porMedico) {
  const out = new Map();
  for (const [id, slots] of Object.entries(porMedico)) out.set(id, new Map(Object.entries(slots)));
  return out;
}

/** One doctor's row again (a changed horário, or a slot the grid does not know). */
function recarregarMedico(id) {
  if (painel.recarregar.has(id)) return;
  painel.recarregar.add(id);
  setTimeout(async () => {
    painel.recarregar.delete(id);
    try {
      if (!painel.medicos.has(id)) await carregarMedicos();
      const dia = painel.dia;
      const r = await obter(`/agenda/slots?days=1&de=${dia}&medico_id=${encodeURIComponent(id)}`);
      if (dia !== painel.dia) return;
      const novo = slotsParaMapa(r).get(id);
      if (novo) painel.slots.set(id, novo);
      else painel.slots.delete(id);
      desenharAgenda();
    } catch (e) {
      if (!/ 404$/.test(e.message)) avisar(`Falha ao atualizar a agenda: ${e.message}`);
      else {
        painel.slots.delete(id);
        desenharAgenda();
      }
    }
  }, 100);
}

async function carregarMedicos() {
  const lista = await obter('/medicos');
  painel.medicos = new Map(lista.map((m) => [m.id, { nome: m.nome, especialidade: m.especialidade }]));
}

/** Refetches the shown day, the doctors and the tasks, then applies the events kept meanwhile. */
async function sincronizar() {
  if (painel.sincronizando) {
    painel.deNovo = true;
    return;
  }
  painel.sincronizando = true;
  try {
    do {
      painel.deNovo = false;
      const dia = painel.dia;
      try {
        const [slots] = await Promise.all([
          obter(`/agenda/slots?days=1&de=${dia}`),
          carregarMedicos(),
          carregarTarefas(),
          // Its own message: a failed load of this list does not hide the agenda.
          carregarFalhas().catch(() => {}),
        ]);
        if (dia !== painel.dia) {
          painel.deNovo = true;
          continue;
        }
        painel.slots = slotsParaMapa(slots);
        desenharAgenda();
        avisar('');
      } catch (e) {
        avisar(`Não foi possível carregar a agenda: ${e.message}`);
      }
    } while (painel.deNovo);
  } finally {
    painel.sincronizando = false;
    const fila = painel.pendentes;
    painel.pendentes = [];
    for (const m of fila) aplicar(m);
  }
}

// ---- tasks ----------------------------------------------------------------------------

async function carregarTarefas() {
  const lista = await obter(`/sistema/tasks?limit=${MAX_TAREFAS}`);
  painel.tarefas = new Map(lista.map((t) => [t.id, { id: t.id, tipo: t.tipo, status: t.status, progresso: t.progresso }]));
  desenharTarefas();
}

function desenharTarefas() {
  const itens = [...painel.tarefas.values()].slice(0, MAX_TAREFAS).map((t) => {
    const li = document.createElement('li');
    li.className = 'tarefa';
    li.dataset.tarefa = t.id;
    li.dataset.status = t.status;
    const nome = document.createElement('span');
    nome.textContent = NOMES_TIPO[t.tipo] ?? t.tipo;
    nome.title = `Tarefa ${t.id}`;
    const st = document.createElement('span');
    st.className = 'status';
    st.textContent = `${NOMES_STATUS[t.status] ?? t.status} · ${t.progresso}%`;
    const barra = document.createElement('progress');
    barra.max = 100;
    barra.value = t.progresso;
    barra.setAttribute('aria-label', `${nome.textContent}: ${st.textContent}`);
    li.append(nome, st, barra);
    return li;
  });
  el('lista-tarefas').replaceChildren(...itens);
  el('sem-tarefas').hidden = itens.length > 0;
}

function atualizarTarefa(d) {
  const t = { id: d.task_id, tipo: d.tipo, status: d.status, progresso: d.progresso };
  if (painel.tarefas.has(t.id)) painel.tarefas.set(t.id, t);
  else painel.tarefas = new Map([[t.id, t], ...[...painel.tarefas].slice(0, MAX_TAREFAS - 1)]);
  desenharTarefas();
}

// ---- failed notifications ---------------------------------------------------------------

async function carregarFalhas() {
  if (el('falhas').hidden) return;
  const lista = await obter(`/notificacoes?status=falhou&limit=${MAX_FALHAS}`);
  painel.falhas = new Map(lista.map((n) => [n.id, n]));
  desenharFalhas();
}

function desenharFalhas() {
  const itens = [...painel.falhas.values()].slice(0, MAX_FALHAS).map((n) => {
    const li = document.createElement('li');
    li.className = 'falha';
    li.dataset.notificacao = n.id;
    const nome = document.createElement('span');
    nome.className = 'evento';
    nome.textContent = NOMES_EVENTO[n.evento] ?? n.evento;
    nome.title = `Notificação ${n.id}`;
    const detalhe = document.createElement('span');
    detalhe.className = 'detalhe';
    const canal = n.canal === 'email' ? `e-mail para ${n.destino}` : 'webhook';
    const vezes = `${n.tentativas} tentativa${n.tentativas === 1 ? '' : 's'}`;
    detalhe.textContent = [canal, vezes, n.ultimo_erro].filter(Boolean).join(' · ');
    const botao = document.createElement('button');
    botao.type = 'button';
    botao.textContent = 'Reenviar';
    botao.setAttribute('aria-label', `Reenviar: ${nome.textContent}`);
    botao.addEventListener('click', () => reenviar(n.id, botao));
    li.append(nome, botao, detalhe);
    return li;
  });
  el('lista-falhas').replaceChildren(...itens);
  el('sem-falhas').hidden = itens.length > 0;
}

/** `POST /notificacoes/{id}/reenviar`: a write, so it carries this browser's bearer token. */
async function reenviar(id, botao) {
  botao.disabled = true;
  const token = localStorage.getItem(CHAVE_TOKEN);
  try {
    const r = await fetch(`/notificacoes/${encodeURIComponent(id)}/reenviar`, {
      method: 'POST',
      headers: { accept: 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    });
    if (r.status === 401) {
      sessaoEncerrada();
      return;
    }
    if (!r.ok) {
      const corpo = await r.json().catch(() => ({}));
      avisar(corpo.detail ?? `Não foi possível reenviar (erro ${r.status}).`);
      return;
    }
    painel.falhas.delete(id);
    desenharFalhas();
  } catch {
    avisar('Sem conexão com o servidor.');
  } finally {
    botao.disabled = false;
  }
}

/** A notification's new state (`notificacao_atualizada`): listed while it is `falhou`. */
function atualizarFalha(n) {
  if (el('falhas').hidden || !n.id) return;
  const outras = [...painel.falhas].filter(([id]) => id !== n.id);
  painel.falhas = new Map(n.status === 'falhou' ? [[n.id, n], ...outras] : outras);
  desenharFalhas();
}

// ---- events ---------------------------------------------------------------------------

function aplicar(m) {
  const d = m.dados ?? {};
  switch (m.tipo) {
    case 'horario_reservado':
      marcar(d.medico_id, d.slot, 'reservado');
      break;
    case 'horario_liberado':
    case 'horario_disponivel':
      marcar(d.medico_id, d.slot, 'disponivel');
      break;
    case 'horario_ocupado':
      marcar(d.medico_id, d.slot, 'ocupado');
      break;
    case 'horario_atualizado':
      recarregarMedico(d.medico_id);
      break;
    case 'tarefa_atualizada':
      atualizarTarefa(d);
      break;
    case 'notificacao_atualizada':
      atualizarFalha(d);
      break;
    default:
      break;
  }
}

function aoEvento(ev) {
  let m;
  try {
    m = JSON.parse(ev.data);
  } catch {
    return;
  }
  if (painel.sincronizando) painel.pendentes.push(m);
  else aplicar(m);
}

let ultimoId = '';

function abrirAgenda() {
  // The query parameter carries the last id only when we open a new EventSource ourselves
  // (after the browser gave up); its own reconnections send the Last-Event-ID header.
  const url = ultimoId ? `/sistema/agenda/stream?last_event_id=${encodeURIComponent(ultimoId)}` : '/sistema/agenda/stream';
  const es = new EventSource(url);
  es.onopen = () => {
    conexao('ao-vivo', 'Ao vivo');
    sincronizar();
  };
  es.onmessage = (ev) => {
    if (ev.lastEventId) ultimoId = ev.lastEventId;
    aoEvento(ev);
  };
  es.onerror = async () => {
    if (es.readyState === EventSource.CLOSED) {
      conexao('reconectando', 'Sem conexão; tentando de novo…');
      // A stream refused because the session ended: sign in again (the form hides the
      // agenda meanwhile), then reopen it; otherwise retry.
      if (await semSessao()) {
        await sessaoEncerrada();
        abrirAgenda();
        return;
      }
      setTimeout(abrirAgenda, 2000);
    } else {
      conexao('reconectando', 'Reconectando…');
    }
  };
}

// ---- logs -----------------------------------------------------------------------------

function linhaLog(texto) {
  const li = document.createElement('li');
  li.textContent = texto;
  if (texto.includes('[ERROR]')) li.className = 'erro';
  else if (texto.includes('[WARN]')) li.className = 'aviso-log';
  return li;
}

async function carregarLogs() {
  try {
    const r = await obter('/sistema/logs?limit=100');
    el('lista-logs').replaceChildren(...r.logs.map(linhaLog));
  } catch {
    // The stream's next opening tries again.
  }
}

function abrirLogs() {
  if (el('logs').hidden) return;
  const es = new EventSource('/sistema/logs/stream');
  es.onopen = carregarLogs;
  es.onmessage = (ev) => {
    const lista = el('lista-logs');
    lista.prepend(linhaLog(ev.data));
    while (lista.childElementCount > MAX_LOGS) lista.lastElementChild.remove();
  };
  es.onerror = () => {
    if (es.readyState === EventSource.CLOSED) setTimeout(abrirLogs, 2000);
  };
}

// ---- date picker ----------------------------------------------------------------------

/** The agenda's heading: today's, or the shown day's date. */
function titular() {
  const dia = painel.dia;
  el('titulo-agenda').textContent = dia === HOJE ? 'Agenda de hoje' : `Agenda de ${dia.split('-').reverse().join('/')}`;
}

function mudarDia(dia) {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(dia)) return;
  painel.dia = dia;
  el('dia').value = dia;
  titular();
  sincronizar();
}

/** Today's date (`YYYY-MM-DD`) in the clinic's zone by the server's clock; the date the page
 * came with when the zone is unknown to the browser. */
function hojeNaClinica() {
  return momentoNaClinica()?.slice(0, 10) ?? HOJE;
}

/** Now in the clinic's zone as a slot key (`YYYY-MM-DDTHH:MM:SS`); null when unknown. */
function momentoNaClinica() {
  if (!FUSO) return null;
  try {
    const partes = new Intl.DateTimeFormat('en-CA', {
      timeZone: FUSO, year: 'numeric', month: '2-digit', day: '2-digit',
      hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23',
    }).formatToParts(new Date(Date.now() + DESVIO));
    const v = (t) => partes.find((p) => p.type === t)?.value;
    const m = `${v('year')}-${v('month')}-${v('day')}T${v('hour')}:${v('minute')}:${v('second')}`;
    return /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}$/.test(m) ? m : null;
  } catch {
    return null;
  }
}

/** Whether a slot on the grid has started (the server lists none that has). */
function algumComecou() {
  const agora = momentoNaClinica();
  if (!agora) return false;
  for (const porSlot of painel.slots.values()) {
    for (const slot of porSlot.keys()) if (slot < agora) return true;
  }
  return false;
}

function acompanharDia() {
  const agora = hojeNaClinica();
  if (agora === HOJE) {
    // A page left open all day: slots that started since the last fetch leave the grid
    // (and the summary's counts), as a fresh load would show it.
    if (painel.dia === HOJE && algumComecou()) sincronizar();
    return;
  }
  const estavaEmHoje = painel.dia === HOJE;
  HOJE = agora;
  if (estavaEmHoje) {
    mudarDia(agora);
  } else {
    titular();
    resumir();
  }
}

function somarDias(dia, n) {
  const [a, m, d] = dia.split('-').map(Number);
  return new Date(Date.UTC(a, m - 1, d + n)).toISOString().slice(0, 10);
}

async function iniciar() {
  el('dia').value = painel.dia;
  titular();
  el('dia').addEventListener('change', (e) => mudarDia(e.target.value));
  el('escolha-dia').addEventListener('submit', (e) => e.preventDefault());
  el('hoje').addEventListener('click', () => mudarDia(HOJE));
  el('anterior').addEventListener('click', () => mudarDia(somarDias(painel.dia, -1)));
  el('seguinte').addEventListener('click', () => mudarDia(somarDias(painel.dia, 1)));
  el('sair').addEventListener('click', sair);
  setInterval(acompanharDia, 30_000);
  await entrar();
  abrirAgenda();
  abrirLogs();
  sincronizar();
}

iniciar();
