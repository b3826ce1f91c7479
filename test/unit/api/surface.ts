// The public names of the package (values and types), read from src/index.ts with the
// TypeScript compiler: what `import { … } from 'tributary'` offers.
import ts from 'typescript'
import { join } from 'node:path'

const root = join(__dirname, '..', '..', '..')

/** Every name src/index.ts exports, sorted, each marked `value` or `type`. */
export function publicNames(): string[] {
  const entry = join(root, 'src', 'index.ts')
  const config = ts.readConfigFile(join(root, 'tsconfig.json'), ts.sys.readFile)
  const parsed = ts.parseJsonConfigFileContent(config.config, ts.sys, root)
  const program = ts.createProgram([entry], { ...parsed.options, noEmit: true })
  const checker = program.getTypeChecker()
  const source = program.getSourceFile(entry)
  const moduleSymbol = source && checker.getSymbolAtLocation(source)
  if (!moduleSymbol) throw new Error('src/index.ts has no module symbol')
  return checker
    .getExportsOfModule(moduleSymbol)
    .map((symbol) => {
      const target = symbol.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(symbol) : symbol
      const value = (target.flags & ts.SymbolFlags.Value) !== 0
      return `${symbol.getName()} ${value ? 'value' : 'type'}`
    })
    .sort()
}

if (require.main === module) process.stdout.write(`${publicNames().join('\n')}\n`)
