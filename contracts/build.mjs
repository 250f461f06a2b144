// Compile contracts/src/*.sol with the pinned npm `solc` into contracts/out/<Name>.json
// ({abi, bytecode, deployedBytecode, compiler}). Deterministic: same sources, same output.
// Usage: node contracts/build.mjs [--check]   (--check: exit 1 if out/ differs from a rebuild)
import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import solc from 'solc'

const here = path.dirname(fileURLToPath(import.meta.url))
const srcDir = path.join(here, 'src')
const outDir = path.join(here, 'out')
const check = process.argv.includes('--check')

const sources = {}
for (const file of fs.readdirSync(srcDir).filter((f) => f.endsWith('.sol')).sort()) {
  sources[file] = { content: fs.readFileSync(path.join(srcDir, file), 'utf8') }
}

const input = {
  language: 'Solidity',
  sources,
  settings: {
    optimizer: { enabled: true, runs: 200 },
    evmVersion: 'cancun',
    // No metadata hash: the bytecode then depends only on the code, not on comments or paths.
    metadata: { bytecodeHash: 'none', appendCBOR: false },
    outputSelection: { '*': { '*': ['abi', 'evm.bytecode.object', 'evm.deployedBytecode.object'] } },
  },
}

function findImports(p) {
  const candidates = [path.join(srcDir, p), path.join(here, '..', 'node_modules', p)]
  for (const c of candidates) if (fs.existsSync(c)) return { contents: fs.readFileSync(c, 'utf8') }
  return { error: `not found: ${p}` }
}

const output = JSON.parse(solc.compile(JSON.stringify(input), { import: findImports }))
const errors = (output.errors || []).filter((e) => e.severity === 'error')
for (const e of output.errors || []) console.error(e.formattedMessage)
if (errors.length) process.exit(1)

let stale = 0
fs.mkdirSync(outDir, { recursive: true })
for (const [file, contracts] of Object.entries(output.contracts)) {
  for (const [name, c] of Object.entries(contracts)) {
    const artifact = {
      contractName: name,
      sourceName: `contracts/src/${file}`,
      compiler: `solc ${solc.version()}`,
      abi: c.abi,
      bytecode: '0x' + c.evm.bytecode.object,
      deployedBytecode: '0x' + c.evm.deployedBytecode.object,
    }
    const text = JSON.stringify(artifact, null, 2) + '\n'
    const target = path.join(outDir, `${name}.json`)
    if (check) {
      const current = fs.existsSync(target) ? fs.readFileSync(target, 'utf8') : ''
      if (current !== text) {
        console.error(`stale: ${target}`)
        stale++
      }
    } else {
      fs.writeFileSync(target, text)
      console.log(`wrote ${path.relative(process.cwd(), target)}`)
    }
  }
}
process.exit(stale ? 1 : 0)
