/**
 * The artifacts derived from the operation registry at build time: the
 * polkit policy, the D-Bus introspection of the daemon, the man pages
 * apt-ostree(1), apt-ostreed(8) and apt-ostreed.conf(5), and the bash
 * completion of apt-ostree. Pure functions of the registry (and the contract
 * and configuration defaults); ./gen-data.ts writes them.
 */
import { DEFAULT_DAEMON_CONFIG } from '../engine/config';
import { cliOptions, ENTRIES, POLKIT, type Entry, type OptionSpec, type PolkitAction } from '../engine/operations/registry';
import { VERSION } from '../engine/version';
import { BUS_NAME, DAEMON_INTERFACE, interfaceXml, METHOD_ACTIONS, POLKIT_PREFIX, TRANSACTION_INTERFACE } from '../dbus/contract';

// ---------------------------------------------------------------------------
// polkit

const xmlText = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/'/g, '&apos;');

/** The shipped polkit policy: every action a method checks, in the registry's order, all auth_admin. */
export function renderPolicy(): string {
  const used = new Set(Object.values(METHOD_ACTIONS));
  const actions = (Object.values(POLKIT) as PolkitAction[]).filter((a) => used.has(a.id));
  const out = [
    '<?xml version="1.0" encoding="UTF-8"?>',
    '<!DOCTYPE policyconfig PUBLIC "-//freedesktop//DTD PolicyKit Policy Configuration 1.0//EN"',
    ' "http://www.freedesktop.org/standards/PolicyKit/1/policyconfig.dtd">',
    '<!-- polkit actions of apt-ostreed (installed as /usr/share/polkit-1/actions/org.aptostree.dev.policy).',
    '     Every action needs an administrator by default; grant one to a group with a rule in',
    '     /etc/polkit-1/rules.d. uid 0 is allowed by the daemon without asking polkit.',
    '     Generated from src/engine/operations/registry.ts by npm run build: do not edit. -->',
    '<policyconfig>',
    '  <vendor>apt-ostree</vendor>',
  ];
  for (const a of actions) {
    out.push(
      `  <action id="${POLKIT_PREFIX}${a.id}">`,
      `    <description>${xmlText(a.description)}</description>`,
      `    <message>${xmlText(a.message)}</message>`,
      '    <defaults>',
      '      <allow_any>auth_admin</allow_any>',
      '      <allow_inactive>auth_admin</allow_inactive>',
      '      <allow_active>auth_admin</allow_active>',
      '    </defaults>',
      '  </action>',
    );
  }
  out.push('</policyconfig>', '');
  return out.join('\n');
}

// ---------------------------------------------------------------------------
// D-Bus introspection

/** The interfaces of the daemon's object and of a transaction, as the daemon serves them. */
export function renderIntrospection(): string {
  return [
    '<!-- D-Bus interfaces of apt-ostreed. Generated from src/engine/operations/registry.ts by npm run build: do not edit. -->',
    '<node>',
    interfaceXml(DAEMON_INTERFACE),
    interfaceXml(TRANSACTION_INTERFACE),
    '</node>',
    '',
  ].join('\n');
}

// ---------------------------------------------------------------------------
// man pages

/** Text for roff: backslashes, hyphens as minus, no control lines, ASCII. */
function roff(s: string): string {
  return s
    .replace(/…/g, '...')
    .replace(/\\/g, '\\e')
    .replace(/-/g, '\\-')
    .split('\n')
    .map((l) => (/^[.']/.test(l) ? `\\&${l}` : l))
    .join('\n');
}

const b = (s: string): string => `\\fB${roff(s)}\\fR`;
const i = (s: string): string => `\\fI${roff(s)}\\fR`;

function optionSynopsis(o: OptionSpec): string {
  const names = `${o.short ? `${b(`-${o.short}`)}, ` : ''}${b(`--${o.long}`)}`;
  return o.type === 'boolean' ? names : `${names} ${i(o.valueName ?? 'VALUE')}`;
}

function optionHelp(o: OptionSpec): string {
  const more: string[] = [];
  if (o.choices) more.push(`One of: ${o.choices.join(', ')}.`);
  if (o.default !== undefined && o.default !== false && !(Array.isArray(o.default) && o.default.length === 0))
    more.push(`Default: ${String(o.default)}.`);
  if (o.required) more.push('Required.');
  return roff(`${o.help.charAt(0).toUpperCase()}${o.help.slice(1)}.${more.length > 0 ? ` ${more.join(' ')}` : ''}`);
}

function usageOf(e: Entry): string {
  const args = e.positionals.map((p) => {
    const n = `${p.name.toUpperCase()}${p.variadic ? '...' : ''}`;
    return p.required ? n : `[${n}]`;
  });
  return ['apt-ostree', ...e.verb, ...(cliOptions(e).length > 0 ? ['[OPTIONS]'] : []), ...args].join(' ');
}

function verbSection(e: Entry): string[] {
  const out = [`.SS ${roff(usageOf(e))}`, roff(`${e.description}.`)];
  if (e.aliases && e.aliases.length > 0) out.push('.br', roff(`Also: ${e.aliases.map((a) => `apt-ostree ${a}`).join(', ')}.`));
  const notes: string[] = [];
  if (e.type === 'operation') {
    notes.push(
      `Runs as a transaction of apt\\-ostreed (D\\-Bus method ${b(e.dbus.name)}, polkit action ${b(`${POLKIT_PREFIX}${e.polkit.id}`)}); without the daemon, root runs it in\\-process.`,
    );
  } else if (e.dbus && e.polkit) {
    notes.push(`Asks apt\\-ostreed (D\\-Bus method ${b(e.dbus.name)}, polkit action ${b(`${POLKIT_PREFIX}${e.polkit.id}`)}).`);
  }
  if (e.traits.hidden) notes.push('Run by a systemd unit; not listed by \\fB\\-\\-help\\fR.');
  if (notes.length > 0) out.push('.PP', notes.join(' '));
  for (const p of e.positionals) out.push('.TP', i(p.name.toUpperCase()), roff(`${p.help.charAt(0).toUpperCase()}${p.help.slice(1)}.`));
  for (const o of cliOptions(e)) out.push('.TP', optionSynopsis(o), optionHelp(o));
  return out;
}

const TH = (name: string, section: number, title: string): string => `.TH ${name} ${section} "" "apt-ostree ${VERSION}" "${title}"`;

/** apt-ostree(1): a section per verb, with its options, from the registry. */
export function renderManCli(): string {
  const out = [
    TH('APT\\-OSTREE', 1, 'User Commands'),
    '.SH NAME',
    'apt\\-ostree \\- atomic, image\\-based package management for Debian on OSTree',
    '.SH SYNOPSIS',
    `${b('apt-ostree')} [${b('--sysroot')} ${i('PATH')}] [${b('--log-level')} ${i('LEVEL')}] ${i('COMMAND')} [${i('OPTIONS')}] [${i('ARGUMENTS')}]`,
    '.SH DESCRIPTION',
    roff(
      'apt-ostree manages a Debian or Ubuntu system whose operating system is an OSTree commit. Every change (an upgrade, a layered package, new kernel arguments) makes a new deployment; the machine boots into it atomically, and the previous one stays for rollback.',
    ),
    '.PP',
    roff(
      'Commands that change the system go through the daemon apt-ostreed(8) on the system bus, which checks the caller with polkit and runs one transaction at a time. When the daemon is neither running nor activatable, root runs the change in-process (with a notice); APT_OSTREE_DIRECT=1 forces that.',
    ),
    '.SH GLOBAL OPTIONS',
    '.TP',
    `${b('--sysroot')} ${i('PATH')}`,
    roff('OSTree sysroot to act on (default /, or $APT_OSTREE_SYSROOT).'),
    '.TP',
    `${b('--log-level')} ${i('LEVEL')}`,
    roff('error, warning, notice, info or debug (default warning, or $APT_OSTREE_LOG_LEVEL).'),
    '.TP',
    b('--version'),
    'Print the version.',
    '.TP',
    `${b('-h')}, ${b('--help')}`,
    roff('Show help, for the program or a command.'),
    '.SH COMMANDS',
  ];
  for (const e of ENTRIES) {
    if (e.type === 'command' && e.group) {
      out.push(`.SS ${roff(`apt-ostree ${e.verb.join(' ')} COMMAND`)}`, roff(`${e.description}.`));
      continue;
    }
    out.push(...verbSection(e));
  }
  out.push(
    '.SH EXIT STATUS',
    '.TP',
    '0',
    'Done.',
    '.TP',
    '1',
    roff('Failed: the error, and a hint when there is one, are on standard error.'),
    '.TP',
    '77',
    roff('Nothing changed, with --unchanged-exit-77.'),
    '.SH ENVIRONMENT',
    '.TP',
    b('APT_OSTREE_SYSROOT'),
    roff('The default of --sysroot.'),
    '.TP',
    b('APT_OSTREE_DIRECT'),
    roff('1: run changes in-process, without the daemon (root only).'),
    '.TP',
    b('APT_OSTREE_LOG_LEVEL'),
    roff('The default of --log-level.'),
    '.TP',
    b('DBUS_SYSTEM_BUS_ADDRESS'),
    roff('The system bus to find apt-ostreed on.'),
    '.SH SEE ALSO',
    '.BR apt\\-ostreed (8),',
    '.BR apt\\-ostreed.conf (5),',
    '.BR ostree (1)',
    '',
  );
  return out.join('\n');
}

/** apt-ostreed(8). */
export function renderManDaemon(): string {
  const methods = DAEMON_INTERFACE.methods.map((m) => `${m.name}(${m.in.map((x) => x.type).join(', ')})`);
  const actionOf = (name: string): string | undefined => METHOD_ACTIONS[name];
  return [
    TH('APT\\-OSTREED', 8, 'System Administration'),
    '.SH NAME',
    'apt\\-ostreed \\- the apt\\-ostree daemon',
    '.SH SYNOPSIS',
    `${b('apt-ostreed')} [${b('--sysroot')} ${i('PATH')}] [${b('--config')} ${i('FILE')}]`,
    '.SH DESCRIPTION',
    roff(
      `apt-ostreed owns ${BUS_NAME} on the system bus and runs the changes apt-ostree(1) asks for, on one OSTree sysroot, as transactions: one at a time, each exported as an object whose signals carry its progress, cancellable, and checked with polkit. D-Bus activation starts it (apt-ostreed.service); it exits after IdleExitTimeout without work.`,
    ),
    '.PP',
    roff(
      'A call that repeats an unfinished request joins its transaction; a different one fails as busy unless it carries the option "queue" (apt-ostree --queue). An error reply has the name of its error code and the body (message, JSON of code, hint and details).',
    ),
    '.SH OPTIONS',
    '.TP',
    `${b('--sysroot')} ${i('PATH')}`,
    roff('OSTree sysroot to serve (default /).'),
    '.TP',
    `${b('--config')} ${i('FILE')}`,
    roff('Configuration file (default /etc/apt-ostree/apt-ostreed.conf, or $APT_OSTREE_CONFIG); see apt-ostreed.conf(5).'),
    '.TP',
    b('--version'),
    'Print the version.',
    '.SH SIGNALS',
    '.TP',
    b('SIGHUP'),
    roff('Read the configuration again (as the Reload method does).'),
    '.TP',
    b('SIGTERM'),
    roff('Cancel the transactions and exit.'),
    '.SH D\\-BUS METHODS',
    roff(`Interface ${DAEMON_INTERFACE.name} at /org/aptostree/dev:`),
    ...methods.flatMap((m, k) => {
      const a = actionOf(DAEMON_INTERFACE.methods[k]!.name);
      return ['.TP', b(m), roff(a ? `polkit action ${POLKIT_PREFIX}${a}.` : 'Open to every caller.')];
    }),
    '.SH FILES',
    '.TP',
    '/etc/apt\\-ostree/apt\\-ostreed.conf',
    'The configuration.',
    '.TP',
    '/usr/share/polkit\\-1/actions/org.aptostree.dev.policy',
    roff('The polkit actions; every one needs an administrator by default.'),
    '.SH SEE ALSO',
    '.BR apt\\-ostree (1),',
    '.BR apt\\-ostreed.conf (5),',
    '.BR polkit (8)',
    '',
  ].join('\n');
}

/** apt-ostreed.conf(5): the keys of the configuration file. */
export function renderManConf(): string {
  const d = DEFAULT_DAEMON_CONFIG;
  const key = (name: string, values: string, text: string): string[] => ['.TP', `${b(name)}=${i(values)}`, roff(text)];
  return [
    TH('APT\\-OSTREED.CONF', 5, 'File Formats'),
    '.SH NAME',
    'apt\\-ostreed.conf \\- configuration of the apt\\-ostree daemon',
    '.SH SYNOPSIS',
    '/etc/apt\\-ostree/apt\\-ostreed.conf',
    '.SH DESCRIPTION',
    roff(
      'A GLib key file read by apt-ostreed(8) when it starts, on SIGHUP, and on "apt-ostree reload". A value the daemon cannot use is logged, naming the file, key and value, and the previous value is kept (the default at start-up); unknown keys and groups are logged too.',
    ),
    '.SH "[Daemon] GROUP"',
    ...key('LogLevel', 'LEVEL', `How much the daemon logs: error, warning, notice, info or debug. Default: ${d.logLevel}.`),
    ...key(
      'IdleExitTimeout',
      'SECONDS',
      `Seconds without a transaction or a client before the daemon exits (D-Bus activation starts it again); 0: never. Default: ${d.idleExitTimeout}.`,
    ),
    ...key(
      'AutomaticUpdatePolicy',
      'POLICY',
      `What the apt-ostreed-automatic timer does: none (nothing), check (look for an update and show it in apt-ostree status), stage (download and stage it for the next boot). Default: ${d.automaticUpdatePolicy}.`,
    ),
    ...key(
      'AutomaticUpdateScope',
      'SCOPE',
      `Which updates automatic updates take: full, or security (a base that carries security fixes, and security updates of layered packages). Default: ${d.automaticUpdateScope}.`,
    ),
    ...key(
      'TransactionTimeout',
      'SECONDS',
      `Seconds a transaction may run before the daemon cancels it; 0: no limit. Default: ${d.transactionTimeout}.`,
    ),
    '.SH "[Countme] GROUP"',
    roff(
      'Anonymous usage counting by apt-ostree-countme.timer: at most one request per 7-day window per endpoint, carrying only the OS version and an age bucket. Nothing is sent while no endpoint is set.',
    ),
    ...key('Enabled', 'BOOLEAN', 'false turns counting off. Default: true.'),
    ...key('Endpoints', 'URLS', 'http(s) URLs to count at, separated by ";". Default: none.'),
    '.SH EXAMPLE',
    '.nf',
    '[Daemon]',
    'AutomaticUpdatePolicy=stage',
    'AutomaticUpdateScope=security',
    '.fi',
    '.SH SEE ALSO',
    '.BR apt\\-ostreed (8),',
    '.BR apt\\-ostree (1)',
    '',
  ].join('\n');
}

// ---------------------------------------------------------------------------
// bash completion

const shellWords = (l: readonly string[]): string => l.join(' ');

/** The bash completion of apt-ostree: verbs, subverbs, options, option values, and some arguments. */
export function renderCompletion(): string {
  const top = [...new Set(ENTRIES.filter((e) => !e.traits.hidden).map((e) => e.verb[0]!))];
  const groups = ENTRIES.filter((e) => e.type === 'command' && e.group).map((e) => e.verb[0]!);
  const cases: string[] = [];
  for (const e of ENTRIES) {
    if (e.type === 'command' && e.group) {
      const subs = ENTRIES.filter((x) => x.verb.length === 2 && x.verb[0] === e.verb[0]).map((x) => x.verb[1]!);
      cases.push(`    '${e.verb[0]}') subs='${shellWords(subs)}' ;;`);
      continue;
    }
    const opts = cliOptions(e).flatMap((o) => [...(o.short ? [`-${o.short}`] : []), `--${o.long}`]);
    opts.push('--help');
    const valued = cliOptions(e)
      .filter((o) => o.type !== 'boolean')
      .flatMap((o) => [...(o.short ? [`-${o.short}`] : []), `--${o.long}`]);
    const choices = cliOptions(e)
      .filter((o) => o.choices)
      .map((o) => `--${o.long}=${o.choices!.join(',')}`);
    const arg = e.positionals[0]?.complete ?? '';
    const keys = [e.verb.join(' '), ...(e.aliases ?? []).map((a) => [...e.verb.slice(0, -1), a].join(' '))];
    cases.push(
      `    ${keys.map((k) => `'${k}'`).join('|')}) opts='${shellWords(opts)}'; valued='${shellWords(valued)}'; choices='${shellWords(choices)}'; arg='${arg}' ;;`,
    );
  }
  return `# bash completion for apt-ostree. Generated from src/engine/operations/registry.ts by npm run build: do not edit.

# Deployment indexes, or layered package names, from apt-ostree status --json (node is there: apt-ostree runs on it).
_apt_ostree_status() {
  local sysroot=$1 what=$2
  apt-ostree \${sysroot:+--sysroot "$sysroot"} status --json 2>/dev/null | node -e '
let s = ""; process.stdin.on("data", (d) => (s += d)).on("end", () => {
  try {
    const d = JSON.parse(s).deployments || [];
    const out = process.argv[1] === "index" ? d.map((_, i) => i) : [...new Set(d.flatMap((x) => x["requested-packages"] || []))];
    process.stdout.write(out.join("\\n"));
  } catch (e) {}
});' "$what" 2>/dev/null
}

_apt_ostree() {
  local cur=\${COMP_WORDS[COMP_CWORD]} prev=\${COMP_WORDS[COMP_CWORD-1]}
  local verbs='${shellWords(top)}' groups=' ${shellWords(groups)} '
  local globals='--sysroot --log-level --version --help'
  local verb='' sub='' sysroot='' i w
  for ((i = 1; i < COMP_CWORD; i++)); do
    w=\${COMP_WORDS[i]}
    case $w in
      --sysroot) sysroot=\${COMP_WORDS[i+1]}; i=$((i + 1)); continue ;;
      --log-level) i=$((i + 1)); continue ;;
      -*) continue ;;
    esac
    if [[ -z $verb ]]; then verb=$w
    elif [[ -z $sub && $groups == *" $verb "* ]]; then sub=$w
    fi
  done
  case $prev in
    --sysroot) COMPREPLY=($(compgen -d -- "$cur")); return ;;
    --log-level) COMPREPLY=($(compgen -W 'error warning notice info debug' -- "$cur")); return ;;
  esac
  if [[ -z $verb ]]; then
    if [[ $cur == -* ]]; then COMPREPLY=($(compgen -W "$globals" -- "$cur")); else COMPREPLY=($(compgen -W "$verbs" -- "$cur")); fi
    return
  fi
  local key=$verb opts='' valued='' choices='' arg='' subs=''
  [[ -n $sub ]] && key="$verb $sub"
  case $key in
${cases.join('\n')}
    *) return ;;
  esac
  if [[ -n $subs ]]; then
    COMPREPLY=($(compgen -W "$subs --help" -- "$cur"))
    return
  fi
  if [[ " $valued " == *" $prev "* ]]; then
    local c
    for c in $choices; do
      if [[ \${c%%=*} == "$prev" ]]; then
        c=\${c#*=}
        COMPREPLY=($(compgen -W "\${c//,/ }" -- "$cur"))
        return
      fi
    done
    COMPREPLY=($(compgen -f -- "$cur"))
    return
  fi
  if [[ $cur == -* ]]; then
    COMPREPLY=($(compgen -W "$opts" -- "$cur"))
    return
  fi
  case $arg in
    deployment-index) COMPREPLY=($(compgen -W "$(_apt_ostree_status "$sysroot" index)" -- "$cur")) ;;
    layered-package) COMPREPLY=($(compgen -W "$(_apt_ostree_status "$sysroot" layered)" -- "$cur")) ;;
    file | deb) COMPREPLY=($(compgen -f -- "$cur")) ;;
  esac
}

complete -F _apt_ostree apt-ostree
`;
}
