import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['node_modules/**', 'data/**', 'dist/**', 'test-artifacts/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      globals: {
        process: 'readonly',
        console: 'readonly',
        URL: 'readonly',
        Buffer: 'readonly',
        setTimeout: 'readonly',
        clearTimeout: 'readonly',
        setInterval: 'readonly',
        clearInterval: 'readonly',
        fetch: 'readonly',
        AbortController: 'readonly',
        AbortSignal: 'readonly',
        TextEncoder: 'readonly',
        TextDecoder: 'readonly',
        structuredClone: 'readonly',
        Response: 'readonly',
        Request: 'readonly',
        Headers: 'readonly',
        crypto: 'readonly',
        performance: 'readonly',
        queueMicrotask: 'readonly',
        setImmediate: 'readonly',
        URLSearchParams: 'readonly',
      },
    },
    rules: {
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_' },
      ],
      '@typescript-eslint/no-explicit-any': 'off',
      'no-restricted-imports': 'off',
    },
  },
  ...[
    // Files directly in src/policy or src/verifier reach server code with '../x'; files one
    // folder deeper with '../../x'. Both are forbidden (ARCHITECTURE.md §1).
    { files: ['src/policy/*.ts', 'src/verifier/*.ts'], up: '..' },
    { files: ['src/policy/*/**/*.ts', 'src/verifier/*/**/*.ts'], up: '../..' },
  ].map(({ files, up }) => ({
    files,
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: [
                'oidc-provider',
                'koa',
                '@koa/*',
                'kysely',
                'kysely-*',
                'pg',
                'nodemailer',
                '@electric-sql/*',
                'pino',
              ],
              message:
                'The verifier and policy engine must not import server-side packages (ARCHITECTURE.md §1).',
            },
            {
              group: [
                'oidc',
                'db',
                'admin',
                'elevation',
                'approvals',
                'mail',
                'audit',
                'http',
                'config',
                'accounts',
                'roles',
                'keys',
                'policy-bundle',
              ]
                .flatMap((d) => [`${up}/${d}/*`, `${up}/${d}`])
                .concat([`${up}/main.ts`, `${up}/app.ts`, `${up}/errors.ts`]),
              message:
                'The verifier and policy engine must not import server code (ARCHITECTURE.md §1).',
            },
          ],
        },
      ],
    },
  })),
);
