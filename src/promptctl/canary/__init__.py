"""The canary's judgement, apart from git and the CLI: the policy as promptctl.yaml states
it (`policy`), where its metrics come from (`sources`), the statistics it tests them with
(`stats`, and the sample-ratio check in `srm`), and the step it takes (`decide`)."""
