// Which Sandgate settings are machine-scoped, from the schema in package.json.

export interface SettingSchema {
  scope?: string;
}

const MACHINE_SCOPES = new Set(["machine", "machine-overridable", "application"]);

/** True when every Sandgate setting `query` names (a key or a prefix) is machine-scoped. */
export function machineScoped(query: string, properties: Record<string, SettingSchema>): boolean {
  const keys = Object.keys(properties).filter((key) => key === query || key.startsWith(`${query}.`));
  return keys.length > 0 && keys.every((key) => MACHINE_SCOPES.has(properties[key].scope ?? "window"));
}
