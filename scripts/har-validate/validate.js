// Validates HAR files with har-validator (the JSON Schemas of HAR 1.2 from har-schema).
// Usage: node validate.js FILE...   (exit 0 all valid, 1 one is invalid or unreadable)
'use strict'
const fs = require('fs')
const validator = require('har-validator')

async function main () {
  let bad = 0
  for (const file of process.argv.slice(2)) {
    let data
    try {
      data = JSON.parse(fs.readFileSync(file, 'utf8'))
    } catch (e) {
      console.log(`${file}: not JSON: ${e.message}`)
      bad++
      continue
    }
    try {
      await validator.har(data)
      console.log(`${file}: valid HAR ${data.log.version} (${data.log.entries.length} entries)`)
    } catch (e) {
      bad++
      for (const err of e.errors || [e]) {
        console.log(`${file}: ${err.dataPath || ''} ${err.message}${err.params ? ' ' + JSON.stringify(err.params) : ''}`)
      }
    }
  }
  process.exit(bad ? 1 : 0)
}
main()
