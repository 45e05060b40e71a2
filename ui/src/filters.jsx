// FilterSelect is one drop-down of a page's filter toolbar: a label over a select of
// options, each a [value, label] pair; onChange gets the chosen value.
export function FilterSelect({ label, value, onChange, options, testid }) {
  return (
    <label class="field">
      <span>{label}</span>
      <select value={value} onChange={(e) => onChange(e.target.value)} data-testid={testid}>
        {options.map(([v, l]) => <option value={v}>{l}</option>)}
      </select>
    </label>
  );
}

// SEVERITY_FILTER is the severity filter's options: any, then each severity.
export const SEVERITY_FILTER = [['', 'all'], ...['critical', 'high', 'medium', 'low'].map((s) => [s, s])];
