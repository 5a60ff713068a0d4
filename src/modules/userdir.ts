/**
 * mod_userdir (modules/mappers/mod_userdir.c): its command table (`userdir_cmds[]`). Its
 * translate_name hook (`translate_userdir`) is the engine's `userDirTarget`
 * (src/engine/resolve.ts), which maps `/~NAME/` with the Scripts layout that `serve --userdir`
 * names; the `UserDir` line itself is checked as Apache checks it and not applied.
 */
import { getWordConf } from '../grammar/words.js';
import { finding, refused, type ModuleDefinition } from './module.js';

/** mod_userdir as Apache loads it. */
export const userdirModule: ModuleDefinition = {
  name: 'userdir',
  directives: [
    {
      name: 'UserDir',
      shape: 'RAW_ARGS',
      override: 'RSRC_CONF',
      help: "the public subdirectory in users' home directories, or 'disabled', or 'disabled username username...', or 'enabled username username...'",
      // set_user_dir: a raw-argument directive may come with no argument at all.
      compile: ({ rawArgs }) => (getWordConf(rawArgs, 0).value === '' ? refused(finding('UserDir requires an argument.')) : { findings: [], value: undefined }),
      parsedOnly: true,
    },
  ],
  hooks: { translate_name: 'userDirTarget' },
};
