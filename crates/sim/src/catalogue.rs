//! The simulator's control catalogue: real Secure Score control ids and titles, with the
//! licence that brings each product. Values (maxima, rank, cost, impact) are plausible, not
//! copied from any tenant.

/// Which licence owns a control's product.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Product {
    /// Entra ID P1, Exchange Online, SharePoint: every licence here.
    Core,
    /// Defender for Office 365 P1/P2: Business Premium and E5.
    Mdo,
    /// Enterprise-only features: E3 and E5.
    Enterprise,
    /// E5-only: Entra ID P2, Defender for Identity, Defender for Cloud Apps, Purview premium.
    E5,
    /// Products no simulated tenant owns (Defender for Cloud Apps SaaS connectors): profiles only.
    Unowned,
}

/// How a control earns points.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Proportional to users/devices covered; carries `count`/`total` strings.
    Count,
    /// On or off; carries `on: "true"/"false"`.
    Toggle,
    /// All or nothing, no extra fields.
    Plain,
}

/// One catalogue entry.
#[derive(Debug, Clone)]
pub struct Entry {
    pub id: Cow<'static, str>,
    pub title: &'static str,
    pub category: &'static str,
    pub service: &'static str,
    pub max: f64,
    pub tier: &'static str,
    pub action_type: &'static str,
    pub cost: Option<&'static str>,
    pub impact: Option<&'static str>,
    pub kind: Kind,
    pub product: Product,
}

// A table row reads best as one positional call per control.
#[allow(clippy::too_many_arguments)]
const fn e(
    id: &'static str,
    title: &'static str,
    category: &'static str,
    service: &'static str,
    max: f64,
    tier: &'static str,
    cost: Option<&'static str>,
    impact: Option<&'static str>,
    kind: Kind,
    product: Product,
) -> Entry {
    Entry {
        id: Cow::Borrowed(id),
        title,
        category,
        service,
        max,
        tier,
        action_type: "Config",
        cost,
        impact,
        kind,
        product,
    }
}

use std::borrow::Cow;
use Kind::*;
use Product::*;

const LOW: Option<&str> = Some("Low");
const LOWER: Option<&str> = Some("low");
const MOD: Option<&str> = Some("Moderate");
const MED: Option<&str> = Some("Medium");
const HIGH: Option<&str> = Some("High");
const UNK: Option<&str> = Some("Unknown");
const NONE: Option<&str> = None;

/// The named controls (Defender for Endpoint `scid_*` controls are generated, see [`device_controls`]).
pub const NAMED: &[Entry] = &[
    // Entra ID
    e("AdminMFAV2", "Ensure multifactor authentication is enabled for all users in administrative roles", "Identity", "AzureAD", 10.0, "Core", LOW, LOW, Count, Core),
    e("MFARegistrationV2", "Ensure all users can complete multifactor authentication", "Identity", "AzureAD", 9.0, "Core", LOW, MOD, Count, Core),
    e("BlockLegacyAuthentication", "Enable Conditional Access policies to block legacy authentication", "Identity", "AzureAD", 8.0, "Core", MOD, MOD, Plain, Core),
    e("OneAdmin", "Designate more than one global admin", "Identity", "AzureAD", 1.0, "Core", LOW, LOW, Count, Core),
    e("IntegratedApps", "Do not allow users to grant consent to unreliable applications", "Identity", "AzureAD", 4.0, "Core", LOW, MOD, Toggle, Core),
    e("PWAgePolicyNew", "Set the 'Password expiration policy' to 'Set passwords to never expire (recommended)'", "Identity", "AzureAD", 8.0, "Core", LOW, MOD, Toggle, Core),
    e("SelfServicePasswordReset", "Enable self-service password reset", "Identity", "AzureAD", 1.0, "Core", LOW, MOD, Toggle, Core),
    e("RoleOverlap", "Use least privileged administrative roles", "Identity", "AzureAD", 1.0, "Core", LOW, LOW, Count, Core),
    e("PasswordHashSync", "Enable Password Hash Sync if hybrid", "Identity", "AzureAD", 5.0, "Core", LOW, LOW, Toggle, Core),
    e("aad_admin_consent_workflow", "Ensure the admin consent workflow is enabled", "Identity", "AzureAD", 5.0, "Core", UNK, NONE, Plain, Core),
    e("aad_limited_administrative_roles", "Ensure Administrative accounts are separate and cloud-only", "Identity", "AzureAD", 3.0, "Core", MOD, LOW, Count, Core),
    e("aad_third_party_integrated_apps", "Ensure third party integrated applications are not allowed", "Identity", "AzureAD", 3.0, "Core", LOW, MOD, Toggle, Core),
    e("aad_password_protection", "Enable Microsoft Entra ID Password Protection to on-premises Active Directory", "Identity", "AzureAD", 5.0, "Core", MOD, LOW, Plain, Core),
    e("aad_custom_banned_passwords", "Ensure custom banned passwords lists are used", "Identity", "AzureAD", 5.0, "Core", LOW, LOW, Plain, Core),
    e("aad_linkedin_connection_disables", "Ensure 'LinkedIn account connections' is disabled", "Identity", "AzureAD", 3.0, "Defense In Depth", LOW, LOW, Toggle, Core),
    e("aad_guest_invite_restrictions", "Ensure that collaboration invitations are sent to allowed domains only", "Identity", "AzureAD", 3.0, "Defense In Depth", LOW, MOD, Toggle, Core),
    e("aad_phishing_MFA_strength", "Ensure Phishing-resistant MFA strength is required for Administrators", "Identity", "AzureAD", 8.0, "Core", MOD, MOD, Plain, Core),
    e("aad_block_device_code_flow", "Ensure device code flow is blocked", "Identity", "AzureAD", 5.0, "Core", LOW, LOW, Plain, Core),
    e("aad_sign_in_freq_session_timeout", "Ensure Sign-in frequency is enabled and browser sessions are not persistent for Administrative users", "Identity", "AzureAD", 4.0, "Core", LOW, MOD, Plain, Core),
    e("aad_managed_device_required_for_authentication", "Ensure a managed device is required for authentication", "Identity", "AzureAD", 6.0, "Advanced", HIGH, HIGH, Plain, Enterprise),
    e("aad_security_info_registration_managed_device", "Ensure a managed device is required to register security information", "Identity", "AzureAD", 4.0, "Advanced", MOD, MOD, Plain, Enterprise),
    e("SigninRiskPolicy", "Enable Microsoft Entra ID Identity Protection sign-in risk policies", "Identity", "AzureAD", 7.0, "Core", MOD, MOD, Plain, E5),
    e("UserRiskPolicy", "Enable Microsoft Entra ID Identity Protection user risk policies", "Identity", "AzureAD", 7.0, "Core", MOD, MOD, Plain, E5),
    e("aad_pim_approval_global_admin", "Ensure approval is required for Global Administrator role activation", "Identity", "AzureAD", 5.0, "Advanced", MOD, LOW, Plain, E5),
    e("aad_pim_privileged_role_management", "Ensure 'Privileged Identity Management' is used to manage roles", "Identity", "AzureAD", 6.0, "Advanced", HIGH, MOD, Plain, E5),
    e("aad_access_reviews_guest_users", "Ensure 'Access reviews' for Guest Users are configured", "Identity", "AzureAD", 3.0, "Defense In Depth", MOD, LOW, Plain, E5),
    e("aad_access_reviews_privileged_roles", "Ensure 'Access reviews' for privileged roles are configured", "Identity", "AzureAD", 3.0, "Defense In Depth", MOD, LOW, Plain, E5),
    // Exchange Online
    e("exo_mailtipsenabled", "Ensure MailTips are enabled for end users", "Data", "EXO", 1.0, "Defense In Depth", LOWER, LOWER, Toggle, Core),
    e("exo_oauth2clientprofileenabled", "Ensure modern authentication for Exchange Online is enabled", "Apps", "EXO", 5.0, "Core", LOW, LOW, Toggle, Core),
    e("exo_mailboxaudit", "Ensure mailbox auditing for all users is Enabled", "Apps", "EXO", 3.0, "Core", LOW, LOW, Count, Core),
    e("exo_storageproviderrestricted", "Ensure additional storage providers are restricted in Outlook on the web", "Data", "EXO", 3.0, "Defense In Depth", LOW, MOD, Toggle, Core),
    e("exo_outlookaddins", "Ensure users installing Outlook add-ins is not allowed", "Apps", "EXO", 3.0, "Defense In Depth", LOW, MOD, Toggle, Core),
    e("exo_individualsharing", "Ensure calendar details sharing with external users is disabled", "Data", "EXO", 2.0, "Defense In Depth", LOW, MOD, Toggle, Core),
    e("exo_transportrules", "Ensure mail transport rules do not forward email to external domains", "Data", "EXO", 3.0, "Core", LOW, LOW, Toggle, Core),
    e("exo_auditdisabledfalse", "Ensure 'AuditDisabled' organizationally is set to 'False'", "Apps", "EXO", 2.0, "Core", LOW, LOW, Toggle, Core),
    e("exo_smtpclientauthenticationdisabled", "Ensure SMTP AUTH is disabled", "Apps", "EXO", 5.0, "Core", LOW, MOD, Toggle, Core),
    e("exo_dmarc", "Ensure DMARC Records for all Exchange Online domains are published", "Apps", "EXO", 5.0, "Core", MOD, LOW, Count, Core),
    e("exo_spf", "Ensure that SPF records are published for all Exchange Domains", "Apps", "EXO", 3.0, "Core", LOW, LOW, Count, Core),
    e("exo_dkim", "Ensure that DKIM is enabled for all Exchange Online Domains", "Apps", "EXO", 3.0, "Core", LOW, LOW, Count, Core),
    e("CustomerLockBoxEnabled", "Turn on customer lockbox feature", "Data", "EXO", 5.0, "Defense In Depth", LOW, LOW, Toggle, E5),
    // Defender for Office 365 / EOP
    e("mdo_safelinksforemail", "Create Safe Links policies for email messages", "Apps", "MDO", 9.0, "Core", LOW, LOW, Toggle, Mdo),
    e("mdo_safelinksforOfficeApps", "Create Safe Links policies for Office apps", "Apps", "MDO", 8.0, "Core", LOW, LOW, Toggle, Mdo),
    e("mdo_safeattachments", "Turn on Safe Attachments in block mode", "Apps", "MDO", 8.0, "Core", LOW, MOD, Toggle, Mdo),
    e("mdo_safeattachmentpolicy", "Ensure Safe Attachments policy is enabled", "Apps", "MDO", 8.0, "Core", LOW, LOW, Toggle, Mdo),
    e("mdo_atpprotection", "Turn on Microsoft Defender for Office 365 in SharePoint, OneDrive, and Microsoft Teams", "Apps", "MDO", 8.0, "Core", LOW, LOW, Toggle, Mdo),
    e("mdo_antiphishingpolicies", "Ensure that an anti-phishing policy has been created", "Apps", "MDO", 8.0, "Core", LOW, LOW, Toggle, Mdo),
    e("mdo_enable_mailbox_intelligence", "Enable mailbox intelligence protection", "Apps", "MDO", 3.0, "Core", LOW, LOW, Toggle, Mdo),
    e("mdo_targetedusersprotection", "Enable impersonated user protection", "Apps", "MDO", 5.0, "Core", MED, LOW, Toggle, Mdo),
    e("mdo_targeteddomainprotection", "Enable impersonated domain protection", "Apps", "MDO", 5.0, "Core", LOW, LOW, Toggle, Mdo),
    e("mdo_mailboxintelligenceprotection", "Move messages that are detected as impersonated users by mailbox intelligence", "Apps", "MDO", 3.0, "Core", LOW, LOW, Toggle, Mdo),
    e("mdo_phishthresholdlevel", "Set the phishing email level threshold at 2 or higher", "Apps", "MDO", 3.0, "Core", LOW, LOW, Toggle, Mdo),
    e("mdo_zapspam", "Ensure that Zero-hour auto purge for spam is enabled", "Apps", "MDO", 3.0, "Core", LOW, LOW, Toggle, Core),
    e("mdo_zapphish", "Ensure that Zero-hour auto purge for phishing is enabled", "Apps", "MDO", 3.0, "Core", LOW, LOW, Toggle, Core),
    e("mdo_zapmalware", "Ensure that Zero-hour auto purge for malware is enabled", "Apps", "MDO", 3.0, "Core", LOW, LOW, Toggle, Core),
    e("mdo_commonattachmentsfilter", "Ensure the Common Attachment Types Filter is enabled", "Apps", "MDO", 5.0, "Core", LOW, LOW, Toggle, Core),
    e("mdo_highconfidencespamaction", "Set action to take on high confidence spam detection", "Apps", "MDO", 3.0, "Core", LOW, LOW, Toggle, Core),
    e("mdo_bulkspamaction", "Set action to take on bulk spam detection", "Apps", "MDO", 3.0, "Core", LOW, LOW, Toggle, Core),
    e("mdo_spam_notifications_only_for_admins", "Set up notifications for internal users sending malware", "Apps", "MDO", 3.0, "Defense In Depth", LOW, LOW, Toggle, Core),
    e("mdo_blockmailforward", "Ensure all forms of mail forwarding are blocked and/or disabled", "Data", "MDO", 5.0, "Core", LOW, MOD, Toggle, Core),
    e("mdo_autoforwardingmode", "Ensure automatic forwarding options are disabled", "Data", "MDO", 5.0, "Core", LOW, MOD, Toggle, Core),
    e("mdo_priorityaccountprotection", "Ensure Priority account protection is enabled and configured", "Apps", "MDO", 5.0, "Advanced", LOW, LOW, Toggle, E5),
    e("mdo_teamsprotection", "Ensure Microsoft Defender for Office 365 protection for Teams is on", "Apps", "MDO", 5.0, "Core", LOW, LOW, Toggle, Mdo),
    e("mdo_userreportedmessages", "Ensure users can report phishing and junk email in Outlook", "Apps", "MDO", 2.0, "Defense In Depth", LOW, LOW, Toggle, Mdo),
    e("mdo_quarantine_policies", "Ensure quarantine notifications are enabled", "Apps", "MDO", 2.0, "Defense In Depth", LOW, LOW, Toggle, Mdo),
    e("mdo_spoofintelligence", "Ensure spoof intelligence is enabled", "Apps", "MDO", 3.0, "Core", LOW, LOW, Toggle, Mdo),
    e("mdo_firstcontactsafetytip", "Ensure first contact safety tips are enabled", "Apps", "MDO", 2.0, "Defense In Depth", LOW, LOW, Toggle, Mdo),
    e("mdo_unauthenticatedsender", "Ensure unauthenticated sender indicators are shown", "Apps", "MDO", 2.0, "Defense In Depth", LOW, LOW, Toggle, Mdo),
    e("mdo_allowedsenderscombined", "Ensure allowed senders and domains lists are not used", "Apps", "MDO", 3.0, "Core", LOW, LOW, Toggle, Mdo),
    e("mdo_safedocuments", "Turn on Safe Documents for Office clients", "Apps", "MDO", 3.0, "Advanced", LOW, LOW, Toggle, E5),
    // SharePoint and OneDrive
    e("spo_idle_session_timeout", "Ensure idle session timeout is configured for SharePoint and OneDrive", "Data", "SharePoint", 3.0, "Core", LOW, MOD, Toggle, Core),
    e("spo_legacy_auth", "Ensure modern authentication for SharePoint applications is required", "Apps", "SharePoint", 3.0, "Core", LOW, LOW, Toggle, Core),
    e("spo_external_sharing_managed", "Ensure external content sharing is restricted", "Data", "SharePoint", 5.0, "Core", LOW, MOD, Toggle, Core),
    e("spo_default_sharing_link", "Ensure link sharing is restricted in SharePoint and OneDrive", "Data", "SharePoint", 3.0, "Core", LOW, MOD, Toggle, Core),
    e("spo_guest_expiry", "Ensure guest access to a site or OneDrive will expire automatically", "Data", "SharePoint", 2.0, "Defense In Depth", LOW, LOW, Toggle, Core),
    e("spo_infected_files_download", "Ensure Office 365 SharePoint infected files are disallowed for download", "Data", "SharePoint", 3.0, "Core", LOW, LOW, Toggle, Mdo),
    e("spo_sync_unmanaged_devices", "Block OneDrive sync from unmanaged devices", "Data", "SharePoint", 3.0, "Advanced", MOD, HIGH, Toggle, Enterprise),
    // Purview
    e("mip_search_auditlog", "Ensure Microsoft 365 audit log search is Enabled", "Data", "MIP", 3.0, "Core", LOW, LOW, Toggle, Core),
    e("mip_sensitivitylabelspolicies", "Publish sensitivity labels", "Data", "MIP", 5.0, "Core", MOD, MOD, Plain, Enterprise),
    e("mip_DLP_policies", "Turn on Data Loss Prevention policies", "Data", "MIP", 5.0, "Core", MOD, MOD, Plain, Enterprise),
    e("mip_purviewlabelconsent", "Extend sensitivity labels to files in Microsoft 365 Apps", "Data", "MIP", 3.0, "Defense In Depth", LOW, LOW, Plain, Enterprise),
    e("mip_autosensitivitylabelspolicies", "Create auto-labeling policies for sensitive data", "Data", "MIP", 5.0, "Advanced", HIGH, LOW, Plain, E5),
    e("dlp_datalossprevention_teams", "Ensure DLP policies are enabled for Microsoft Teams", "Data", "MIP", 3.0, "Core", MOD, MOD, Plain, Enterprise),
    e("mip_insider_risk_policies", "Create insider risk management policies", "Data", "MIP", 4.0, "Advanced", HIGH, LOW, Plain, E5),
    // Intune
    e("Intune_device_compliance_policy", "Create a device compliance policy that marks devices without a policy as noncompliant", "Device", "Intune", 5.0, "Core", MOD, MOD, Plain, Enterprise),
    e("Intune_enrollment_restrictions", "Block personally owned devices from enrolling", "Device", "Intune", 3.0, "Advanced", MOD, HIGH, Plain, Enterprise),
    e("Intune_app_protection_policies", "Create app protection policies for iOS and Android", "Device", "Intune", 5.0, "Core", MED, MOD, Plain, Enterprise),
    e("Intune_windows_update_rings", "Configure Windows Update rings", "Device", "Intune", 3.0, "Core", LOW, LOW, Plain, Enterprise),
    // Defender for Cloud Apps
    e("MCAS_ConnectedApps", "Connect Microsoft 365 to Microsoft Defender for Cloud Apps", "Apps", "MCAS", 5.0, "Core", LOW, LOW, Toggle, E5),
    e("MCAS_AppDiscovery", "Set up Cloud Discovery in Microsoft Defender for Cloud Apps", "Apps", "MCAS", 5.0, "Core", MOD, LOW, Toggle, E5),
    e("MCAS_OAuthAppPolicies", "Create an OAuth app policy to notify you about new OAuth applications", "Apps", "MCAS", 3.0, "Defense In Depth", LOW, LOW, Toggle, E5),
    e("MCAS_AnomalyDetection", "Set up anomaly detection policies", "Apps", "MCAS", 3.0, "Core", LOW, LOW, Toggle, E5),
    e("MCAS_SessionPolicies", "Deploy a session policy for risky apps", "Apps", "MCAS", 4.0, "Advanced", HIGH, MOD, Toggle, E5),
    e("MCAS_FileMonitoring", "Enable file monitoring in Defender for Cloud Apps", "Apps", "MCAS", 2.0, "Defense In Depth", LOW, LOW, Toggle, E5),
    // Defender for Identity
    e("AATP_UnsecureKerberosDelegation", "Remove unsecure Kerberos delegation", "Identity", "Azure ATP", 3.0, "Core", MOD, LOW, Count, E5),
    e("AATP_RiskyLateralMovementPaths", "Reduce lateral movement path risk to sensitive entities", "Identity", "Azure ATP", 5.0, "Core", HIGH, LOW, Count, E5),
    e("AATP_DormantEntities", "Remove dormant accounts from sensitive groups", "Identity", "Azure ATP", 2.0, "Core", LOW, LOW, Count, E5),
    e("AATP_ClearTextPasswords", "Stop clear text credentials exposure", "Identity", "Azure ATP", 3.0, "Core", MOD, LOW, Count, E5),
    e("AATP_LegacyProtocols", "Stop legacy protocols communication", "Identity", "Azure ATP", 3.0, "Core", MOD, MOD, Count, E5),
    e("AATP_WeakCipher", "Stop weak cipher usage", "Identity", "Azure ATP", 3.0, "Core", MOD, LOW, Count, E5),
    e("AATP_UnmonitoredDomainControllers", "Install a Defender for Identity sensor on all domain controllers", "Identity", "Azure ATP", 5.0, "Core", MOD, LOW, Count, E5),
    e("AATP_LAPS", "Install LAPS on all devices", "Identity", "Azure ATP", 3.0, "Core", MOD, LOW, Count, E5),
    e("AATP_PrintSpooler", "Disable Print Spooler service on domain controllers", "Identity", "Azure ATP", 3.0, "Core", LOW, LOW, Count, E5),
    e("AATP_UnconstrainedDelegation", "Remove unconstrained Kerberos delegation", "Identity", "Azure ATP", 3.0, "Core", MOD, LOW, Count, E5),
    e("AATP_ReversibleEncryption", "Remove reversible password encryption", "Identity", "Azure ATP", 2.0, "Core", LOW, LOW, Count, E5),
    e("AATP_PasswordNeverExpires", "Remove the 'password never expires' attribute from sensitive accounts", "Identity", "Azure ATP", 2.0, "Core", LOW, MOD, Count, E5),
    e("AATP_CertificateTemplates", "Prevent users from requesting a certificate valid for arbitrary users", "Identity", "Azure ATP", 3.0, "Advanced", MOD, LOW, Count, E5),
    // Defender for Cloud Apps SaaS connectors: in the catalogue, in nobody's score.
    e("11770.MDA_Google_EnableTwoFactorAuth", "Enable 2-Step Verification for all Google Workspace users", "Apps", "MDA_Google", 8.0, "Core", LOW, MOD, Plain, Unowned),
    e("11771.MDA_Google_BlockLessSecureApps", "Block access to less secure apps in Google Workspace", "Apps", "MDA_Google", 5.0, "Core", LOW, LOW, Plain, Unowned),
    e("12001.MDA_SF_EnableMFA", "Require multifactor authentication for Salesforce logins", "Apps", "MDA_SF", 8.0, "Core", LOW, MOD, Plain, Unowned),
    e("12002.MDA_SF_SessionTimeout", "Set Salesforce session timeout to 2 hours or less", "Apps", "MDA_SF", 3.0, "Core", LOW, LOW, Plain, Unowned),
    e("12201.MDA_GitHub_Require2FA", "Require two-factor authentication for GitHub organization members", "Apps", "MDA_GitHub", 8.0, "Core", LOW, MOD, Plain, Unowned),
    e("12202.MDA_GitHub_BaseMemberPermission", "Set base permissions for GitHub organization members to read", "Apps", "MDA_GitHub", 3.0, "Core", LOW, LOW, Plain, Unowned),
    e("12401.MDA_Okta_PasswordPolicy", "Configure a strong Okta password policy", "Apps", "MDA_Okta", 5.0, "Core", LOW, LOW, Plain, Unowned),
    e("12601.MDA_ServiceNow_MFA", "Enable multifactor authentication in ServiceNow", "Apps", "MDA_ServiceNow", 5.0, "Core", LOW, MOD, Plain, Unowned),
    e("12801.MDA_Zoom_RequirePasscodes", "Require passcodes for Zoom meetings", "Apps", "MDA_Zoom", 3.0, "Core", LOW, MOD, Plain, Unowned),
    e("12802.MDA_Zoom_WaitingRoom", "Enable the waiting room for Zoom meetings", "Apps", "MDA_Zoom", 2.0, "Defense In Depth", LOW, LOW, Plain, Unowned),
    e("13001.MDA_AWS_RootMFA", "Enable MFA for the AWS root account", "Infrastructure", "MDA_AWS", 8.0, "Core", LOW, LOW, Plain, Unowned),
    e("13002.MDA_AWS_CloudTrail", "Ensure CloudTrail is enabled in all regions", "Infrastructure", "MDA_AWS", 5.0, "Core", LOW, LOW, Plain, Unowned),
];

/// Titles of Defender for Endpoint recommendations, reused across the generated `scid_*` ids.
const DEVICE_TITLES: &[&str] = &[
    "Turn on Microsoft Defender Antivirus",
    "Update Microsoft Defender Antivirus definitions",
    "Turn on real-time protection",
    "Turn on cloud-delivered protection",
    "Turn on PUA protection in block mode",
    "Enable Microsoft Defender Antivirus scanning of downloaded files and attachments",
    "Block executable content from email client and webmail",
    "Block all Office applications from creating child processes",
    "Block credential stealing from the Windows local security authority subsystem",
    "Block untrusted and unsigned processes that run from USB",
    "Block persistence through WMI event subscription",
    "Block Adobe Reader from creating child processes",
    "Turn on Tamper Protection",
    "Turn on Microsoft Defender Firewall for the domain profile",
    "Turn on Microsoft Defender Firewall for the private profile",
    "Turn on Microsoft Defender Firewall for the public profile",
    "Enable Network Protection",
    "Turn on Controlled Folder Access",
    "Encrypt all supported drives with BitLocker",
    "Disable SMBv1 client driver",
    "Disable SMBv1 server",
    "Set 'Minimum password length' to '14 or more characters'",
    "Disable 'Autoplay' for all drives",
    "Disable Anonymous enumeration of shares",
    "Enable 'Local Security Authority (LSA) protection'",
    "Set User Account Control (UAC) to automatically deny elevation requests",
    "Disable 'Allow Basic authentication' for WinRM Client",
    "Disable the local storage of passwords and credentials",
    "Update Microsoft Windows",
    "Update Google Chrome",
    "Update Microsoft Edge",
    "Update Microsoft 365 Apps",
    "Disable 'Enumerate administrator accounts on elevation'",
    "Set 'Interactive logon: Machine inactivity limit' to '900 or fewer second(s)'",
    "Enable 'Apply UAC restrictions to local accounts on network logons'",
    "Disable IP source routing",
    "Disable 'Always install with elevated privileges'",
    "Enable scanning of removable drives during a full scan",
    "Set controlled folder access to enabled or audit mode",
    "Disable JavaScript on Adobe Reader DC",
];

/// Defender for Endpoint controls: `n` `scid_*` entries (real id ranges), category Device.
pub fn device_controls(n: usize) -> Vec<Entry> {
    // Real scid ranges: 2000s antivirus/ASR, 4000s network, 5000s OS hardening, 6000s updates.
    const RANGES: &[(u32, u32)] = &[(2000, 2030), (4000, 4020), (5000, 5095), (6000, 6090)];
    let ids = RANGES.iter().flat_map(|&(a, b)| a..b).take(n);
    ids.enumerate()
        .map(|(i, num)| {
            let id = Cow::Owned(format!("scid_{num}"));
            let title = DEVICE_TITLES[i % DEVICE_TITLES.len()];
            let (cost, impact) = match i % 4 {
                0 => (LOW, LOW),
                1 => (MOD, LOW),
                2 => (LOW, MOD),
                _ => (HIGH, MOD),
            };
            Entry {
                id,
                title,
                category: "Device",
                service: "MDATP",
                max: [1.0, 2.0, 3.0, 1.0, 5.0][i % 5],
                tier: if i % 3 == 0 {
                    "Core"
                } else {
                    "Defense In Depth"
                },
                action_type: "Config",
                cost,
                impact,
                kind: Count,
                product: Core,
            }
        })
        .collect()
}
