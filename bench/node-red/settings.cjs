// Node-RED settings for the benchmark comparison (bench/node-red.ts): no editor, warn logs only.
module.exports = {
  uiPort: Number(process.env.PORT),
  uiHost: '127.0.0.1',
  httpAdminRoot: false,
  flowFile: 'flow.json',
  logging: { console: { level: 'warn', metrics: false, audit: false } },
  functionExternalModules: true,
  editorTheme: { tours: false },
};
