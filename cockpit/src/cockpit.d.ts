/**
 * The part of Cockpit's client library (../base1/cockpit.js, loaded by
 * index.html as a global) this page uses. Values from D-Bus arrive as JSON:
 * a variant is { t: signature, v: value }.
 */
export interface CockpitVariant {
  t: string;
  v: unknown;
}

export interface CockpitDBusError {
  name?: string;
  message?: string;
  problem?: string | null;
}

export interface CockpitSubscription {
  remove(): void;
}

export interface CockpitDBusMatch {
  path?: string;
  path_namespace?: string;
  interface?: string;
  member?: string;
}

export interface CockpitDBusClient {
  call(path: string, iface: string, method: string, args: unknown[], options?: { type?: string; timeout?: number }): PromiseLike<unknown[]>;
  subscribe(match: CockpitDBusMatch, callback: (path: string, iface: string, signal: string, args: unknown[]) => void): CockpitSubscription;
  addEventListener(event: 'close' | 'owner', callback: (ev: unknown, arg: unknown) => void): void;
  close(problem?: string): void;
}

export interface CockpitPermission {
  allowed: boolean | null;
  addEventListener(event: 'changed', callback: () => void): void;
  close(): void;
}

export interface Cockpit {
  dbus(name: string | null, options?: { bus?: string; superuser?: 'try' | 'require'; track?: boolean }): CockpitDBusClient;
  permission(options: { admin: boolean }): CockpitPermission;
  transport: { host?: string };
}

declare global {
  interface Window {
    cockpit?: Cockpit;
  }
}
