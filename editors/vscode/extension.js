// The Truk extension: the TextMate grammar does the highlighting; this starts the language
// server, `truk lsp`, over stdio for Truk files (the `truk.path` setting names the compiler).
const vscode = require('vscode');
const { LanguageClient } = require('vscode-languageclient/node');

let client;

function activate(context) {
  const config = vscode.workspace.getConfiguration('truk');
  if (!config.get('lsp.enabled', true)) {
    return;
  }
  const command = config.get('path', 'truk');
  const serverOptions = {
    run: { command, args: ['lsp'] },
    debug: { command, args: ['lsp'] },
  };
  const clientOptions = {
    documentSelector: [{ scheme: 'file', language: 'truk' }],
  };
  client = new LanguageClient('truk', 'Truk language server', serverOptions, clientOptions);
  context.subscriptions.push(client);
  client.start();
}

function deactivate() {
  return client ? client.stop() : undefined;
}

module.exports = { activate, deactivate };
