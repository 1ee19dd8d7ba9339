// actions/cache stand-in, restore: `python standin.py cache` (see action.yml).
const { execFileSync } = require("child_process");
execFileSync(process.env.STANDIN_PYTHON, [process.env.STANDIN_LIB, "cache"], { stdio: "inherit" });
