// actions/cache stand-in, save after the job: `python standin.py cache-save` (see action.yml).
const { execFileSync } = require("child_process");
execFileSync(process.env.STANDIN_PYTHON, [process.env.STANDIN_LIB, "cache-save"], { stdio: "inherit" });
