// A YAML writer for rule groups. jsonnet 0.18's std.manifestYamlDoc escapes text one character
// at a time and took 16 s for this file; here every free-text value is a literal block scalar
// (`|-`, which needs no escaping) and keys keep the order people expect (record/alert, expr,
// for, labels, annotations) instead of alphabetical.
{
  local block(text, indent) = '|-\n' + indent + std.strReplace(text, '\n', '\n' + indent),
  local plain = ['record', 'alert', 'for', 'keep_firing_for'],
  local order = ['record', 'alert', 'expr', 'for', 'keep_firing_for', 'labels', 'annotations'],
  local map(obj, indent) = std.join('', [
    '%s%s: %s\n' % [indent, k, obj[k]]
    for k in std.objectFields(obj)
  ]),
  local blocks(obj, indent) = std.join('', [
    '%s%s: %s\n' % [indent, k, block(obj[k], indent + '  ')]
    for k in std.objectFields(obj)
  ]),
  local rule(r, indent) =
    local fields = [k for k in order if std.objectHas(r, k)];
    assert std.length(fields) == std.length(std.objectFields(r)) : 'unknown rule key in %s' % std.objectFields(r);
    std.join('', [
      (if i == 0 then indent + '- ' else indent + '  ') + fields[i] + ':' + (
        local k = fields[i];
        local inner = indent + '    ';
        if std.member(plain, k) then ' ' + r[k] + '\n'
        else if k == 'expr' then ' ' + block(std.rstripChars(r[k], '\n'), inner) + '\n'
        else if k == 'labels' then '\n' + map(r[k], inner)
        else '\n' + blocks(r[k], inner)
      )
      for i in std.range(0, std.length(fields) - 1)
    ]),

  // `groups:` and every group, each line prefixed by `indent`.
  groups(groups, indent='')::
    indent + 'groups:\n' + std.join('', [
      '%s  - name: %s\n%s    interval: %s\n%s    rules:\n' % [indent, g.name, indent, g.interval, indent]
      + std.join('', [rule(r, indent + '      ') for r in g.rules])
      for g in groups
    ]),
}
