import type { Dashboard } from '@grafana/schema';
// Grafana's TS types use string enums (ThresholdsMode.Absolute = "absolute"); JSON carries
// their values. Lit<T> swaps every enum for the union of its values and keeps everything else,
// so excess-property and type checks still apply to the rest of the model.
type Lit<T> = T extends string ? `${T}` : T extends (infer U)[] ? Lit<U>[] : T extends object ? { [K in keyof T]: Lit<T[K]> } : T;
